"""``type: oci`` against a real registry (Debian's docker-registry) on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from conftest import kcompile
from fetch_support import tar_gz, write_project
from oci_registry import DIR_LAYER, running_registry
from refs_support import KAPITAN, KAPITAN_MISSING

from kapitan_lite.fetch.base import Dependency, FetchContext, FetchError
from kapitan_lite.fetch.cache import ContentCache
from kapitan_lite.fetch.oci import OciFetcher

PLAIN_TAR = "application/vnd.oci.image.layer.v1.tar"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    with running_registry(tmp_path_factory.mktemp("registry")) as reg:
        yield reg


def tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*"))
            if p.is_file()}


def ctx_for(tmp: Path, offline: bool = False) -> FetchContext:
    (tmp / "scratch").mkdir(parents=True, exist_ok=True)
    return FetchContext(cache=ContentCache(str(tmp / "cache")), offline=offline,
                        scratch=str(tmp / "scratch"), timeout=20)


def dep(source: str, **options) -> Dependency:
    return Dependency("oci", source, "components/gen", {"insecure": True, **options})


def push_generators(registry, repo: str = "kapicorp/generators", tag: str = "1.0") -> str:
    """An artifact as oras pushes one: a file, a directory layer and a tarball file."""
    return registry.push(repo, tag, [
        (b"a: 1\n", "text/yaml", "defaults.yml"),
        (tar_gz({"generators/kubectl/main.py": "print(1)\n",
                 "generators/kubectl/lib/util.py": "X = 2\n",
                 "generators/other/x.txt": "other\n"}), DIR_LAYER, "generators"),
        (tar_gz({"extra/notes.txt": "from a tarball\n"}), PLAIN_TAR, "bundle/extra.tgz"),
    ])


def test_pull_lays_out_files_dirs_and_tarballs_as_kapitan(registry, tmp_path):
    digest = push_generators(registry)
    ctx = ctx_for(tmp_path)
    d = dep(f"{registry.host}/kapicorp/generators:1.0")
    pin = OciFetcher().resolve(d, ctx)
    assert pin == {"digest": digest}
    out = tmp_path / "out"
    out.mkdir()
    OciFetcher().materialize(d, pin, ctx, str(out))
    assert tree(out) == {
        "defaults.yml": "a: 1\n",
        "generators/kubectl/main.py": "print(1)\n",
        "generators/kubectl/lib/util.py": "X = 2\n",
        "generators/other/x.txt": "other\n",
        # A tarball pulled as a file is unpacked into the artifact root and removed.
        "extra/notes.txt": "from a tarball\n",
    }
    assert sorted(p.name for p in (out / "bundle").iterdir()) == []

    # Pinned by digest, the same artifact; and every blob now comes from the cache.
    by_digest = dep(f"{registry.host}/kapicorp/generators@{digest}")
    assert OciFetcher().resolve(by_digest, ctx) == pin
    sub = tmp_path / "sub"
    OciFetcher().materialize(dep(f"{registry.host}/kapicorp/generators:1.0",
                                 subpath="generators/kubectl"), pin, ctx_for(tmp_path, True),
                             str(sub))
    assert tree(sub) == {"main.py": "print(1)\n", "lib/util.py": "X = 2\n"}


def test_media_type_keeps_only_those_layers(registry, tmp_path):
    push_generators(registry, tag="media")
    ctx = ctx_for(tmp_path)
    d = dep(f"{registry.host}/kapicorp/generators:media", media_type="text/yaml")
    out = tmp_path / "out"
    OciFetcher().materialize(d, OciFetcher().resolve(d, ctx), ctx, str(out))
    assert tree(out) == {"defaults.yml": "a: 1\n"}
    with pytest.raises(FetchError, match="media_type 'yaml' is not a MIME type"):
        OciFetcher().resolve(dep(f"{registry.host}/kapicorp/generators:media",
                                 media_type="yaml"), ctx)


def test_errors_name_what_is_wrong(registry, tmp_path):
    push_generators(registry, tag="errs")
    ctx = ctx_for(tmp_path)
    base = f"{registry.host}/kapicorp/generators"
    with pytest.raises(FetchError, match=r"^tag v9 not found$"):
        OciFetcher().resolve(dep(f"{base}:v9"), ctx)
    missing = "sha256:" + "0" * 64
    with pytest.raises(FetchError, match=f"^digest {missing} not found$"):
        OciFetcher().resolve(dep(f"{base}@{missing}"), ctx)
    with pytest.raises(FetchError, match=r"bare registry reference .* without oci://"):
        OciFetcher().resolve(dep(f"oci://{base}:errs"), ctx)
    pin = OciFetcher().resolve(dep(f"{base}:errs"), ctx)
    for subpath, why in [("nope", "subpath 'nope' not found in the artifact"),
                         ("../..", "subpath '../..' leaves the artifact")]:
        with pytest.raises(FetchError, match=why):
            OciFetcher().materialize(dep(f"{base}:errs", subpath=subpath), pin, ctx,
                                     str(tmp_path / subpath.replace(".", "d")))
    with pytest.raises(FetchError, match=r"kcompile\.lock pins digest 'sha256:12', which is not"):
        OciFetcher().materialize(dep(f"{base}:errs"), {"digest": "sha256:12"}, ctx,
                                 str(tmp_path / "badpin"))
    # A registry that is not there.
    with pytest.raises(FetchError, match=r"cannot reach registry 127.0.0.1:9"):
        OciFetcher().resolve(dep("127.0.0.1:9/x/y:1"), ctx)


def test_layer_title_cannot_escape(registry, tmp_path):
    registry.push("evil/title", "1", [(b"x", "text/plain", "../../escaped")])
    ctx = ctx_for(tmp_path)
    d = dep(f"{registry.host}/evil/title:1")
    with pytest.raises(FetchError, match=r"layer title '../../escaped' leaves the artifact"):
        OciFetcher().materialize(d, OciFetcher().resolve(d, ctx), ctx, str(tmp_path / "o"))
    assert not (tmp_path / "escaped").exists()


@pytest.mark.parametrize(("tampered", "why"), [
    (b"tampered_content", "arrived with sha256:"),  # same size, other bytes
    (b"genuine content, and then some\n", "is larger than the 16 bytes expected"),
])
def test_a_corrupted_blob_is_refused(registry, tmp_path, tampered, why):
    data = b"genuine content\n"
    repo = f"corrupt/blob{len(tampered)}"
    registry.push(repo, "1", [(data, "text/plain", "f.txt")])
    digest = hashlib.sha256(data).hexdigest()
    # Change the blob's bytes in the registry's own storage: it serves them unchecked.
    blob_files = list(Path(registry.root).rglob(f"blobs/sha256/{digest[:2]}/{digest}/data"))
    assert blob_files
    original = blob_files[0].read_bytes()
    blob_files[0].write_bytes(tampered)
    try:
        ctx = ctx_for(tmp_path)
        d = dep(f"{registry.host}/{repo}:1")
        with pytest.raises(FetchError, match=f"blob sha256:{digest} {why}"):
            OciFetcher().materialize(d, OciFetcher().resolve(d, ctx), ctx, str(tmp_path / "o"))
        assert ContentCache(str(tmp_path / "cache")).get(digest) is None
    finally:
        blob_files[0].write_bytes(original)


def test_offline_reads_the_cache_only(tmp_path):
    with running_registry(tmp_path / "reg") as reg:
        push_generators(reg)
        d = dep(f"{reg.host}/kapicorp/generators:1.0")
        ctx = ctx_for(tmp_path)
        pin = OciFetcher().resolve(d, ctx)
        with pytest.raises(FetchError, match=f"manifest {reg.host}/kapicorp/generators@"
                                             f"{pin['digest']} is not in the cache"):
            OciFetcher().materialize(d, pin, ctx_for(tmp_path / "empty", offline=True),
                                     str(tmp_path / "miss"))
        OciFetcher().materialize(d, pin, ctx, str(tmp_path / "first"))
    # The registry is gone: offline, everything comes from the cache.
    OciFetcher().materialize(d, pin, ctx_for(tmp_path, offline=True), str(tmp_path / "again"))
    assert tree(tmp_path / "again") == tree(tmp_path / "first")


@pytest.mark.parametrize("token", [False, True], ids=["basic", "bearer"])
def test_auth_from_oci_username_and_password_or_docker_config(tmp_path, monkeypatch, token):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    with running_registry(tmp_path / "reg", auth=("robot", "s3cret"), token=token) as reg:
        reg.push("private/art", "1", [(b"secret file\n", "text/plain", "f.txt")])
        d = dep(f"{reg.host}/private/art:1")
        monkeypatch.delenv("OCI_USERNAME", raising=False)
        monkeypatch.delenv("OCI_PASSWORD", raising=False)
        refused = (r"token request refused \(HTTP 401\); check OCI_USERNAME/OCI_PASSWORD" if token
                   else r"unauthorized \(set OCI_USERNAME/OCI_PASSWORD\)")
        with pytest.raises(FetchError, match=refused):
            OciFetcher().resolve(d, ctx_for(tmp_path))
        monkeypatch.setenv("OCI_USERNAME", "robot")
        monkeypatch.setenv("OCI_PASSWORD", "s3cret")
        ctx = ctx_for(tmp_path)
        pin = OciFetcher().resolve(d, ctx)
        OciFetcher().materialize(d, pin, ctx, str(tmp_path / "o"))
        assert tree(tmp_path / "o") == {"f.txt": "secret file\n"}
        if token:
            assert reg.tokens.issued[-1] == "repository:private/art:pull"
        monkeypatch.setenv("OCI_PASSWORD", "wrong")
        with pytest.raises(FetchError, match=refused):
            OciFetcher().resolve(d, ctx_for(tmp_path))
        # Without the variables, `docker login`'s config.json gives them.
        monkeypatch.delenv("OCI_USERNAME")
        monkeypatch.delenv("OCI_PASSWORD")
        docker = tmp_path / "docker"
        docker.mkdir()
        (docker / "config.json").write_text(json.dumps({"auths": {reg.host: {
            "auth": base64.b64encode(b"robot:s3cret").decode()}}}))
        monkeypatch.setenv("DOCKER_CONFIG", str(docker))
        assert OciFetcher().resolve(d, ctx_for(tmp_path)) == pin


def chart(version: str, extra: dict[str, str] | None = None) -> bytes:
    return tar_gz({"mychart/Chart.yaml": f"apiVersion: v2\nname: mychart\nversion: {version}\n",
                   "mychart/values.yaml": "a: 1\n", **(extra or {})})


def test_kcompile_fetch_oci_and_oci_charts_lock_locked_and_offline(tmp_path):
    env = {"KCOMPILE_CACHE_DIR": str(tmp_path / "cache")}
    with running_registry(tmp_path / "reg") as reg:
        first = push_generators(reg)
        reg.push_chart("charts/mychart", "0.1.0", chart("0.1.0"), "mychart")
        reg.push_chart("charts/mychart", "0.2.0", chart("0.2.0"), "mychart")
        source = f"{reg.host}/kapicorp/generators:1.0"
        p = write_project(tmp_path / "p", {"t": [
            {"type": "oci", "source": source, "output_path": "components/kubectl",
             "subpath": "generators/kubectl", "insecure": True},
            {"type": "helm", "source": f"oci://{reg.host}/charts/mychart", "chart_name": "mychart",
             "version": "~0.1", "output_path": "charts/mychart"},
        ]})
        run = kcompile("fetch", cwd=p, env=env)
        assert run.code == 0, run.err
        assert tree(p / "components/kubectl") == {"main.py": "print(1)\n",
                                                  "lib/util.py": "X = 2\n"}
        assert (p / "charts/mychart/Chart.yaml").read_text().endswith("version: 0.1.0\n")
        pins = {e["type"]: e["pin"] for e in
                yaml.safe_load((p / "kcompile.lock").read_text())["dependencies"]}
        assert pins["oci"] == {"digest": first}
        assert pins["helm"]["version"] == "0.1.0"
        # The tag is pushed again with other content, and so is the chart's.
        reg.push("kapicorp/generators", "1.0", [
            (tar_gz({"generators/kubectl/main.py": "print(2)\n"}), DIR_LAYER, "generators")])
        reg.push_chart("charts/mychart", "0.1.0", chart("0.1.0", {"mychart/new.yaml": "x\n"}),
                       "mychart")
        run = kcompile("fetch", "--locked", cwd=p, env=env)
        assert run.code == 2
        assert f"t: dependency oci {source}: differs from kcompile.lock: digest {first} in " \
               f"kcompile.lock, sha256:" in run.err
        assert "dependency helm oci://" in run.err and "mychart: differs from kcompile.lock" in run.err
        # A new machine with the lock gets the locked digest, not what the tag names now.
        for out in ("components", "charts"):
            shutil.rmtree(p / out)
        fresh = {"KCOMPILE_CACHE_DIR": str(tmp_path / "fresh")}
        run = kcompile("fetch", cwd=p, env=fresh)
        assert run.code == 0, run.err
        assert (p / "components/kubectl/main.py").read_text() == "print(1)\n"
        assert not (p / "charts/mychart/new.yaml").exists()
        run = kcompile("fetch", "--update", "--force", cwd=p, env=env)
        assert run.code == 0, run.err
        assert tree(p / "components/kubectl") == {"main.py": "print(2)\n",
                                                  "lib/util.py": "X = 2\n"}  # force removes nothing
        assert (p / "charts/mychart/new.yaml").is_file()
    # The registry is gone: offline, all from the cache.
    for out in ("components", "charts"):
        shutil.rmtree(p / out)
    run = kcompile("fetch", "--offline", cwd=p, env=env)
    assert run.code == 0, run.err
    assert (p / "components/kubectl/main.py").read_text() == "print(2)\n"
    assert (p / "charts/mychart/new.yaml").is_file()


def test_blob_redirects_leave_the_credentials_behind(tmp_path, monkeypatch):
    """A registry that sends blob downloads to a storage host (as ghcr.io and ECR do)."""
    data = b"layer bytes\n"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    manifest = json.dumps({"schemaVersion": 2, "layers": [
        {"mediaType": "text/plain", "digest": digest, "size": len(data),
         "annotations": {"org.opencontainers.image.title": "f.txt"}}]}).encode()
    creds = "Basic " + base64.b64encode(b"u:p").decode()
    seen: list[str | None] = []

    def serve(handler):
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        return httpd

    class Storage(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.headers.get("Authorization"))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    storage = serve(Storage)

    class Front(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.headers.get("Authorization") != creds:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="r"')
            elif "/blobs/" in self.path:
                self.send_response(307)
                self.send_header("Location", f"http://127.0.0.1:{storage.server_port}/b")
            else:
                self.send_response(200)
                self.end_headers()
                self.wfile.write(manifest)
                return
            self.end_headers()

        def log_message(self, *args):
            pass

    front = serve(Front)
    try:
        monkeypatch.setenv("OCI_USERNAME", "u")
        monkeypatch.setenv("OCI_PASSWORD", "p")
        ctx = ctx_for(tmp_path)
        d = dep(f"127.0.0.1:{front.server_port}/org/art:1")
        OciFetcher().materialize(d, OciFetcher().resolve(d, ctx), ctx, str(tmp_path / "o"))
    finally:
        for httpd in (front, storage):
            httpd.shutdown()
            httpd.server_close()
    assert tree(tmp_path / "o") == {"f.txt": "layer bytes\n"}
    assert seen == [None]


def test_tls_verify_with_a_ca_bundle_or_off(tmp_path):
    with running_registry(tmp_path / "reg", tls=True) as reg:
        reg.push("tls/art", "1", [(b"over tls\n", "text/plain", "f.txt")])
        source = f"{reg.host}/tls/art:1"
        ctx = ctx_for(tmp_path)
        with pytest.raises(FetchError, match=r"^cannot reach registry 127\.0\.0\.1:\d+: "
                                             r".*CERTIFICATE_VERIFY_FAILED.*; set tls_verify to its CA bundle, or to false$"):
            OciFetcher().resolve(Dependency("oci", source, "o"), ctx)
        for n, tls_verify in enumerate([str(reg.ca), False]):
            d = Dependency("oci", source, "o", {"tls_verify": tls_verify})
            OciFetcher().materialize(d, OciFetcher().resolve(d, ctx), ctx, str(tmp_path / f"o{n}"))
            assert tree(tmp_path / f"o{n}") == {"f.txt": "over tls\n"}
        with pytest.raises(FetchError, match=r"tls_verify '/nope\.pem': cannot load the CA bundle"):
            OciFetcher().resolve(Dependency("oci", source, "o", {"tls_verify": "/nope.pem"}), ctx)


def test_same_tree_as_kapitan_compile_fetch(tmp_path):
    """Kapitan 0.36.3 pulls with oras; both must write the same files, modes included."""
    python = KAPITAN.parent / "python"
    if KAPITAN_MISSING:
        pytest.skip(KAPITAN_MISSING)
    if subprocess.run([str(python), "-c", "import oras"], capture_output=True).returncode:
        pytest.skip("Kapitan's venv has no oras (pip install 'kapitan[oci]==0.36.3')")

    def snapshot(root: Path) -> dict[str, tuple]:
        return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None,
                                                 oct(p.stat().st_mode & 0o777))
                for p in sorted(root.rglob("*"))}

    with running_registry(tmp_path / "reg") as reg:
        push_generators(reg)
        reg.push_chart("charts/mychart", "0.1.0", chart("0.1.0"), "mychart")
        deps = [
            {"type": "oci", "source": f"{reg.host}/kapicorp/generators:1.0",
             "output_path": "components/all", "insecure": True},
            {"type": "oci", "source": f"{reg.host}/kapicorp/generators:1.0",
             "output_path": "components/kubectl", "subpath": "generators/kubectl",
             "insecure": True},
            {"type": "oci", "source": f"{reg.host}/charts/mychart:0.1.0",
             "output_path": "components/chart", "insecure": True},
        ]
        items = [{"input_type": "copy", "input_paths": ["components/all/defaults.yml"],
                  "output_path": "."}]
        trees = []
        for who, cmd in [("kapitan", [str(python), "-m", "kapitan", "compile", "--fetch"]),
                         ("kcompile", None)]:
            p = write_project(tmp_path / who, {"t": deps}, compile_items={"t": items})
            if cmd:
                run = subprocess.run(cmd, cwd=p, capture_output=True, text=True, timeout=120)
                assert run.returncode == 0, run.stderr
            else:
                run = kcompile("--fetch", cwd=p, env={"KCOMPILE_CACHE_DIR": str(tmp_path / "c")})
                assert run.code == 0, run.err
            trees.append((snapshot(p / "components"), snapshot(p / "compiled")))
    assert trees[0] == trees[1]
    assert "chart/mychart/Chart.yaml" in trees[0][0]


@pytest.mark.parametrize(("layers", "why"), [
    ([{"mediaType": "text/plain", "digest": "nope"}], "'nope' is not a sha256 digest"),
    ({"not": "a list"}, "the manifest's layers are not a list of descriptors"),
])
def test_a_malformed_manifest_is_an_error(tmp_path, layers, why):
    ctx = ctx_for(tmp_path)
    body = json.dumps({"schemaVersion": 2, "layers": layers}).encode()
    pin = {"digest": "sha256:" + ctx.cache.add_bytes(body)}
    with pytest.raises(FetchError, match=why):
        OciFetcher().materialize(dep("127.0.0.1:9/x/y:1"), pin, ctx, str(tmp_path / "o"))
