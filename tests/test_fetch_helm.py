"""``type: helm`` without a helm binary: a chart repository on a real HTTP server, and ``oci://``."""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
from pathlib import Path

import pytest
import yaml
from conftest import kcompile
from fetch_support import http_server, tar_gz, write_project
from oci_registry import running_registry

from kapitan_lite.fetch.base import Dependency, FetchContext, FetchError
from kapitan_lite.fetch.cache import ContentCache
from kapitan_lite.fetch.helm import HelmFetcher, resolve_reference_url

VERSIONS = ["1.0.0", "1.2.0", "1.2.5", "2.0.0", "2.1.0-beta.1", "not-semver"]


def chart_archive(name: str, version: str, extra: dict[str, str | bytes] | None = None) -> bytes:
    files = {
        f"{name}/Chart.yaml": f"apiVersion: v2\nname: {name}\nversion: {version}\n",
        f"{name}/values.yaml": "replicas: 1\n",
        f"{name}/templates/deploy.yaml": "kind: Deployment\n",
        f"{name}/.helmignore": ".git\n",
        f"{name}/charts/sub/Chart.yaml": "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
    }
    files.update(extra or {})
    return tar_gz(files)


def serve_repo(srv, versions=VERSIONS, name: str = "nginx", bad_digest: str | None = None) -> str:
    """A chart repository at /charts: an index.yaml and one archive per version."""
    entries = []
    for i, version in enumerate(versions):
        data = chart_archive(name, version)
        path = f"/charts/pkg/{name}-{version}.tgz"
        srv.serve(path, data)
        # Relative and absolute URLs both occur in real indexes.
        url = srv.url(path) if i % 2 else f"pkg/{name}-{version}.tgz"
        digest = hashlib.sha256(data).hexdigest()
        entries.append({"name": name, "version": version, "urls": [url],
                        "digest": "0" * 64 if version == bad_digest else digest})
    srv.serve("/charts/index.yaml", yaml.safe_dump({"apiVersion": "v1",
                                                   "entries": {name: entries[::-1]}}))
    return srv.url("/charts")


@pytest.fixture(scope="module")
def repo():
    with http_server() as srv:
        yield srv, serve_repo(srv)


def ctx_for(tmp: Path, offline: bool = False) -> FetchContext:
    return FetchContext(cache=ContentCache(str(tmp / "cache")), offline=offline,
                        scratch=str(tmp), timeout=20)


def helm(source: str, chart: str = "nginx", version: str | None = None, **kw) -> Dependency:
    return Dependency("helm", source, "charts/nginx",
                      {"chart_name": chart, "version": version, **kw})


@pytest.mark.parametrize(("wanted", "picked"), [
    (None, "2.0.0"),  # the newest stable, not the pre-release
    ("", "2.0.0"),
    ("*", "2.0.0"),
    ("1.2.0", "1.2.0"),
    ("1.2", "1.2.5"),  # 1.2 reads as 1.2.x
    ("^1.0", "1.2.5"),
    ("~1.2.0", "1.2.5"),
    ("1.2.x", "1.2.5"),
    (">=1.0 <1.2.5", "1.2.0"),
    (">= 1.0, < 1.2", "1.0.0"),
    ("1.0 - 1.2.1", "1.2.0"),
    ("1.0.0 || 2.x", "2.0.0"),
    ("<2 || >5", "1.2.5"),
    ("!=2.0.0, >=1.2", "1.2.5"),
    (">=2.1.0-0", "2.1.0-beta.1"),  # pre-releases only when the constraint names one
    ("2.1.0-beta.1", "2.1.0-beta.1"),
])
def test_version_constraints_pick_as_helm(repo, tmp_path, wanted, picked):
    srv, url = repo
    pin = HelmFetcher().resolve(helm(url, version=wanted), ctx_for(tmp_path))
    data = srv.files[f"/charts/pkg/nginx-{picked}.tgz"][0]
    assert pin == {"version": picked, "sha256": hashlib.sha256(data).hexdigest(),
                   "url": srv.url(f"/charts/pkg/nginx-{picked}.tgz")}


def test_chart_lands_as_helm_pull_untar_gives_it(repo, tmp_path):
    srv, _ = repo
    bom = b"\xef\xbb\xbfkey: value\n"
    srv.serve("/bom/nginx-1.0.0.tgz", chart_archive("nginx", "1.0.0", {"x/values.yaml": bom}))
    srv.serve("/bom/index.yaml", yaml.safe_dump({"apiVersion": "v1", "entries": {"nginx": [
        {"version": "1.0.0", "urls": ["nginx-1.0.0.tgz"]}]}}))  # no digest given
    ctx = ctx_for(tmp_path)
    d = helm(srv.url("/bom/"))
    pin = HelmFetcher().resolve(d, ctx)
    out = tmp_path / "chart"
    out.mkdir()
    HelmFetcher().materialize(d, pin, ctx, str(out))
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == [".helmignore", "Chart.yaml", "charts/sub/Chart.yaml",
                     "templates/deploy.yaml", "values.yaml"]
    assert (out / "Chart.yaml").read_text().startswith("apiVersion: v2\nname: nginx\n")
    # helm drops a UTF-8 BOM and writes every file 0644.
    assert (out / "values.yaml").read_bytes() == b"key: value\n"
    assert {stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*") if p.is_file()} == {0o644}


def test_missing_chart_version_and_bad_constraint(repo, tmp_path):
    _, url = repo
    ctx = ctx_for(tmp_path)
    with pytest.raises(FetchError, match=r"^chart nope not found in the repository index$"):
        HelmFetcher().resolve(helm(url, chart="nope"), ctx)
    with pytest.raises(FetchError, match=r"^chart nginx: version 9\.9\.9 not found \(there are "
                                         r"2\.1\.0-beta\.1, 2\.0\.0, 1\.2\.5, 1\.2\.0, 1\.0\.0, \.\.\.\)$"):
        HelmFetcher().resolve(helm(url, version="9.9.9"), ctx)
    with pytest.raises(FetchError, match=r"chart nginx: version '>>1': improper constraint"):
        HelmFetcher().resolve(helm(url, version=">>1"), ctx)
    # As helm: a version must read as a constraint, even one the index spells exactly.
    with pytest.raises(FetchError, match=r"version 'not-semver': improper constraint"):
        HelmFetcher().resolve(helm(url, version="not-semver"), ctx)
    with pytest.raises(FetchError, match=r"GET http://127\.0\.0\.1:\d+/gone/index\.yaml: HTTP 404"):
        HelmFetcher().resolve(helm(url.replace("/charts", "/gone")), ctx)


def test_digest_mismatch_and_replaced_archive(tmp_path):
    with http_server() as srv:
        url = serve_repo(srv, ["1.0.0", "1.1.0"], bad_digest="1.1.0")
        ctx = ctx_for(tmp_path)
        with pytest.raises(FetchError, match=r"^chart nginx version 1\.1\.0: http://.*/nginx-1\.1\.0"
                                             r"\.tgz has sha256:[0-9a-f]{64}, the index says "
                                             r"sha256:0{64}$"):
            HelmFetcher().resolve(helm(url, version="1.1.0"), ctx)
        d = helm(url, version="1.0.0")
        pin = HelmFetcher().resolve(d, ctx)
        # The archive is replaced upstream; a fresh cache must not take it for the locked one.
        srv.serve("/charts/pkg/nginx-1.0.0.tgz", chart_archive("nginx", "1.0.0", {
            "nginx/templates/evil.yaml": "kind: Evil\n"}))
        fresh = ctx_for(tmp_path / "fresh")
        with pytest.raises(FetchError, match=r"chart nginx version 1\.0\.0: .* is no longer the "
                                             r"archive locked \(sha256:"):
            HelmFetcher().materialize(d, pin, fresh, str(tmp_path / "o1"))
        # The first cache still holds the locked archive: it is used, not the new one.
        HelmFetcher().materialize(d, pin, ctx, str(tmp_path / "o2"))
        assert not (tmp_path / "o2" / "templates" / "evil.yaml").exists()
        # And a new resolve sees what is upstream now (the index's digest no longer matches).
        with pytest.raises(FetchError, match="the index says"):
            HelmFetcher().resolve(d, fresh)


def test_offline(repo, tmp_path):
    _, url = repo
    d = helm(url, version="1.2.0")
    ctx = ctx_for(tmp_path)
    pin = HelmFetcher().resolve(d, ctx)
    with pytest.raises(FetchError, match=rf"^chart nginx version 1\.2\.0 \(sha256:{pin['sha256']}\)"
                                         r" is not in the cache \(fetch once without --offline\)$"):
        HelmFetcher().materialize(d, pin, ctx_for(tmp_path / "empty", offline=True),
                                  str(tmp_path / "o"))
    HelmFetcher().materialize(d, pin, ctx_for(tmp_path, offline=True), str(tmp_path / "o"))
    assert (tmp_path / "o" / "Chart.yaml").is_file()


@pytest.mark.parametrize(("extra", "why"), [
    ({"nginx/../../evil": "x"}, "path leaves the chart"),
    ({"README": "x"}, "outside the chart's directory"),
    ({"nginx//etc/passwd": "x"}, "absolute path in chart"),
])
def test_unsafe_chart_archives_are_refused(tmp_path, extra, why):
    with http_server() as srv:
        srv.serve("/r/c.tgz", chart_archive("nginx", "1.0.0", extra))
        srv.serve("/r/index.yaml", yaml.safe_dump({"entries": {"nginx": [
            {"version": "1.0.0", "urls": ["c.tgz"]}]}}))
        ctx = ctx_for(tmp_path)
        d = helm(srv.url("/r"))
        with pytest.raises(FetchError, match=why):
            HelmFetcher().materialize(d, HelmFetcher().resolve(d, ctx), ctx, str(tmp_path / "o"))
    assert not (tmp_path.parent / "evil").exists()


def test_chart_name_must_match(tmp_path):
    with http_server() as srv:
        srv.serve("/r/c.tgz", chart_archive("other", "1.0.0"))
        srv.serve("/r/index.yaml", yaml.safe_dump({"entries": {"nginx": [
            {"version": "1.0.0", "urls": ["c.tgz"]}]}}))
        ctx = ctx_for(tmp_path)
        d = helm(srv.url("/r"))
        with pytest.raises(FetchError, match="the archive holds chart 'other', not 'nginx'"):
            HelmFetcher().materialize(d, HelmFetcher().resolve(d, ctx), ctx, str(tmp_path / "o"))


def test_reference_urls_resolve_as_helm():
    assert resolve_reference_url("https://h/charts", "a-1.tgz") == "https://h/charts/a-1.tgz"
    assert resolve_reference_url("https://h/charts/", "../x/a.tgz") == "https://h/x/a.tgz"
    assert resolve_reference_url("https://h/c?tok=1", "a.tgz") == "https://h/c/a.tgz?tok=1"
    assert resolve_reference_url("https://h/c", "http://o/a.tgz") == "http://o/a.tgz"


def test_oci_charts(tmp_path):
    with running_registry(tmp_path / "reg") as reg:
        archives = {v: chart_archive("mychart", v) for v in ("0.1.0", "0.2.0", "1.0.0+build.1")}
        for version, data in archives.items():
            reg.push_chart("charts/mychart", version, data, "mychart")
        reg.push("charts/mychart", "latest", [(b"x", "text/plain", "x")])  # not a version tag
        source = f"oci://{reg.host}/charts/mychart"
        ctx = ctx_for(tmp_path)

        def pin_for(version):
            # No insecure key for helm: a loopback registry without TLS is spoken to in http.
            return HelmFetcher().resolve(helm(source, "mychart", version), ctx)

        for wanted, picked in [("0.1.0", "0.1.0"), ("^0.1", "0.1.0"), (">=0.1 <1", "0.2.0"),
                               (None, "1.0.0+build.1")]:
            pin = pin_for(wanted)
            assert pin == {"version": picked,
                           "sha256": hashlib.sha256(archives[picked]).hexdigest(),
                           "url": f"{source}:{picked.replace('+', '_')}"}
        with pytest.raises(FetchError, match=r"^tag 9\.9\.9 not found$"):
            pin_for("9.9.9")
        with pytest.raises(FetchError, match=r"^chart mychart: version >=5 not found \(there are "
                                             r"1\.0\.0\+build\.1, 0\.2\.0, 0\.1\.0\)$"):
            pin_for(">=5")
        with pytest.raises(FetchError, match=r"version 'latest': improper constraint"):
            pin_for("latest")  # as helm: not a version, and not among the version tags
        reg.push("charts/notchart", "1.0.0", [(b"x", "text/plain", "x")])
        with pytest.raises(FetchError, match=r"notchart:1\.0\.0 is not a helm chart \(no "
                                             r"application/vnd\.cncf\.helm\.chart"):
            HelmFetcher().resolve(helm(f"oci://{reg.host}/charts/notchart", "notchart", "1.0.0"),
                                  ctx)
        # A tag in the source is the version, as helm takes it; with another version, an error.
        assert HelmFetcher().resolve(helm(f"{source}:0.2.0", "mychart"), ctx)["version"] == "0.2.0"
        with pytest.raises(FetchError, match=r"the source's tag 0\.2\.0 and version 0\.1\.0 differ"):
            HelmFetcher().resolve(helm(f"{source}:0.2.0", "mychart", "0.1.0"), ctx)
        d = helm(source, "mychart", "0.2.0")
        pin = pin_for("0.2.0")
        fresh = ctx_for(tmp_path / "fresh")
        HelmFetcher().materialize(d, pin, fresh, str(tmp_path / "o"))  # downloads the blob
        assert (tmp_path / "o" / "Chart.yaml").read_text().endswith("version: 0.2.0\n")
    HelmFetcher().materialize(d, pin, ctx_for(tmp_path / "fresh", offline=True),
                              str(tmp_path / "o2"))
    assert (tmp_path / "o2" / "templates" / "deploy.yaml").is_file()


@pytest.mark.parametrize(("constraint", "version", "ok"), [
    ("^0.2.3", "0.2.9", True), ("^0.2.3", "0.3.0", False), ("^0.0.3", "0.0.4", False),
    ("~1", "1.9.0", True), ("~1", "2.0.0", False), (">1.2", "1.2.9", False),
    (">1.2", "1.3.0", True), ("<=1.2", "1.2.9", True), ("<=1.2", "1.3.0", False),
    ("=1.2.3", "1.2.3+meta", True), ("1.2.3-beta.2", "1.2.3-beta.10", False),
    (">=1.2.3-beta.2", "1.2.3-beta.10", True), (">=1.2.3-beta.2", "1.2.3-beta", False),
    # A pre-release must satisfy every comparison of its group, each naming a pre-release.
    (">=1.0.0-0 <2.0.0", "1.5.0-rc.1", False), (">=1.0.0-0 <2.0.0-0", "1.5.0-rc.1", True),
    ("!=1.2.3", "1.2.4-rc.1", True), ("!=1.2.x", "1.2.4-rc.1", False),
    ("1.x || >=3", "3.0.0", True), ("1.x || >=3", "2.0.0", False),
])
def test_semver_constraint_rules(constraint, version, ok):
    from kapitan_lite.fetch.semver import Constraint, Version

    assert Constraint(constraint).check(Version.parse(version)) is ok


def test_kcompile_fetch_helm_lock_locked_and_offline(tmp_path):
    env = {"KCOMPILE_CACHE_DIR": str(tmp_path / "cache")}
    with http_server() as srv:
        url = serve_repo(srv, ["1.0.0", "1.2.5", "2.0.0"])
        p = write_project(tmp_path / "p", {"t": [
            {"type": "helm", "source": url, "chart_name": "nginx", "version": "^1.0",
             "output_path": "charts/nginx"},
        ]})
        run = kcompile("fetch", cwd=p, env=env)
        assert run.code == 0, run.err
        assert (p / "charts/nginx/Chart.yaml").read_text().endswith("version: 1.2.5\n")
        assert (p / "charts/nginx/templates/deploy.yaml").is_file()
        assert not (p / "charts/nginx/.helmignore").exists()  # unforced, as Kapitan copies
        entry, = yaml.safe_load((p / "kcompile.lock").read_text())["dependencies"]
        data = srv.files["/charts/pkg/nginx-1.2.5.tgz"][0]
        assert entry["pin"] == {"version": "1.2.5", "sha256": hashlib.sha256(data).hexdigest(),
                                "url": srv.url("/charts/pkg/nginx-1.2.5.tgz")}
        # The 1.2.5 archive is replaced upstream (and its index entry with it).
        srv.files.clear()
        serve_repo(srv, ["1.0.0", "2.0.0"])
        new = chart_archive("nginx", "1.2.5", {"nginx/templates/new.yaml": "kind: New\n"})
        srv.serve("/charts/pkg/nginx-1.2.5.tgz", new)
        index = yaml.safe_load(srv.files["/charts/index.yaml"][0])
        index["entries"]["nginx"].append({"version": "1.2.5", "urls": ["pkg/nginx-1.2.5.tgz"],
                                          "digest": hashlib.sha256(new).hexdigest()})
        srv.serve("/charts/index.yaml", yaml.safe_dump(index))
        lock_before = (p / "kcompile.lock").read_text()
        run = kcompile("fetch", "--locked", cwd=p, env=env)
        assert run.code == 2
        assert f"t: dependency helm {url} nginx: differs from kcompile.lock: sha256 " in run.err
        assert (p / "kcompile.lock").read_text() == lock_before
        # The lock holds: a plain fetch (forced) still writes the locked chart, from the cache.
        run = kcompile("fetch", "--force", cwd=p, env=env)
        assert run.code == 0, run.err
        assert not (p / "charts/nginx/templates/new.yaml").exists()
        run = kcompile("fetch", "--update", "--force", cwd=p, env=env)
        assert run.code == 0, run.err
        assert (p / "charts/nginx/templates/new.yaml").is_file()
    # The server is gone: offline comes from the cache, or names what is missing.
    shutil.rmtree(p / "charts")
    run = kcompile("fetch", "--offline", cwd=p, env=env)
    assert run.code == 0, run.err
    assert (p / "charts/nginx/templates/new.yaml").is_file()
    shutil.rmtree(p / "charts")
    run = kcompile("fetch", "--offline", cwd=p, env={"KCOMPILE_CACHE_DIR": str(tmp_path / "c2")})
    assert run.code == 2
    assert "chart nginx version 1.2.5 (sha256:" in run.err and "is not in the cache" in run.err
    assert not (p / "charts/nginx").exists()


def test_index_read_whole_or_by_the_chart_block():
    from kapitan_lite.fetch.helm import chart_entries

    entries = {"nginx-ingress": [{"version": "9.0.0"}], "nginx": [{"version": "1.0.0"},
                                                                  {"version": "0.9.0"}],
               "zz": [{"version": "2.0.0"}]}
    block = yaml.safe_dump({"apiVersion": "v1", "entries": entries, "generated": "now"}).encode()
    flow = json.dumps({"entries": entries}).encode()  # JSON is YAML too: read whole
    for index in (block, flow, block.replace(b"\n", b"\r\n")):
        assert chart_entries(index, "nginx", "i") == entries["nginx"]
        assert chart_entries(index, "zz", "i") == entries["zz"]
        assert chart_entries(index, "nope", "i") == []
    with pytest.raises(FetchError, match=r"^i: not a YAML chart index"):
        chart_entries(b"entries: [\n", "nginx", "i")


def test_a_lock_edited_wrong_is_an_error(repo, tmp_path):
    _, url = repo
    d = helm(url, version="1.2.0")
    ctx = ctx_for(tmp_path)
    pin = HelmFetcher().resolve(d, ctx)
    for bad, why in [({**pin, "sha256": "abc"}, "kcompile.lock pins sha256 'abc', which is not a "
                                                 "sha256 digest"),
                     ({"version": "1.2.0", "sha256": "0" * 64}, "kcompile.lock gives no url")]:
        with pytest.raises(FetchError, match=why):
            HelmFetcher().materialize(d, bad, ctx, str(tmp_path / "o"))
