"""`refs rotate` and `refs write` over ref files older Kapitans wrote, against kapitan 0.36.3.

The old files are the committed fixtures in tests/refs_compat/old/project/refs.
gpg ciphertext is random, so what is compared is the written file's YAML
without ``data`` (keys and their order, type, encoding, recipients), the
plaintext it reveals, and the tags both tools compile from it.
"""

import base64
import http.server
import json
import shutil
import subprocess
import threading
from typing import ClassVar

import pytest
import yaml
from conftest import content
from refs_support import KAPITAN, compat_key, needs_kapitan
from test_refs_old import OLD, _clean_env, run_clean
from test_refs_old import _Vault as _OldVault

REFS = OLD / "project" / "refs"
# (name under refs/t1/, fixture): gpg without `type` (0.16), gpg with it (0.25)
GPG_OLD = {"notype": "v0.16.11/gpg/text", "typed": "v0.25.5/gpg/text",
           "config": "v0.25.5/gpg/config"}
TEMPLATE = "".join(f"{n}: ?{{gpg:t1/{n}}}\n" for n in [*GPG_OLD, "named"])


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """The key the fixtures are encrypted to, plus a second one to rotate to."""
    for k in compat_key(tmp_path_factory):
        k.run("--passphrase", "", "--quick-gen-key", "bob <bob@example.com>",
              "future-default", "default", "never")
        k.bob = k.fingerprint("bob@example.com")
        yield k


def _project(root, keys):
    """refs/t1/ holds old gpg files; target t1's secrets name both keys."""
    (root / "refs/t1").mkdir(parents=True)
    for name, fixture in GPG_OLD.items():
        shutil.copy(REFS / fixture, root / "refs/t1" / name)
    # an old file naming its recipient instead of its fingerprint (same ciphertext)
    named = (REFS / GPG_OLD["notype"]).read_text().replace(
        f"fingerprint: {keys.alice}", "name: test@kapitan-lite.invalid")
    (root / "refs/t1/named").write_text(named)
    (root / "inventory/targets").mkdir(parents=True)
    (root / "inventory/classes").mkdir()
    (root / "templates").mkdir()
    (root / "templates/a.txt").write_text(TEMPLATE)
    (root / "inventory/targets/t1.yml").write_text(
        "parameters:\n  kapitan:\n    vars:\n      target: t1\n    compile:\n"
        "      - output_path: .\n        input_type: jinja2\n        input_paths: [templates/a.txt]\n"
        f"    secrets:\n      gpg:\n        recipients:\n          - fingerprint: {keys.alice}\n"
        f"          - fingerprint: {keys.bob}\n")


def kapitan(*args, cwd, env):
    return subprocess.run([str(KAPITAN), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**_clean_env(), **env})


def _shape(path):
    """The ref file without its (random) ciphertext; recipients as a set, as
    Kapitan's --update-targets writes them in set order."""
    doc = yaml.safe_load(path.read_text())
    rest = {k: v for k, v in doc.items() if k != "data"}
    if "recipients" in rest:
        rest["recipients"] = sorted(rest["recipients"], key=lambda r: sorted(r.items()))
    return list(doc), rest


def _lines(path):
    text = path.read_text()
    return text.endswith("\n"), sorted(ln for ln in text.splitlines() if not ln.startswith("data:"))


def _reveal_both(root, path, env):
    """The file ``root/path`` with its tags revealed, the same from both tools.

    By tag: Kapitan 0.36.3's ``--ref-file`` crashes (KeyError: 'type') on a
    ref file without ``type``, where kcompile reads it as gpg, as tags do."""
    kap = kapitan("refs", "--reveal", "-f", path, cwd=root, env=env)
    ours = run_clean("refs", "reveal", "-f", path, cwd=root, env=env)
    assert (kap.returncode, ours.returncode) == (0, 0), kap.stderr + ours.stderr
    assert kap.stdout == ours.stdout
    return ours.stdout


@needs_kapitan
def test_rotate_old_gpg_refs_as_kapitan_update_targets(tmp_path, keys):
    # kapitan 0.36.3's `refs --update` crashes on Python 3.11 (`str in EnumType`
    # in secret_update), so its equivalent of `rotate --all` is --update-targets.
    for side in ("kap", "ours"):
        _project(tmp_path / side, keys)
    before = _reveal_both(tmp_path / "kap", "templates/a.txt", keys.env)
    assert before == ("notype: gpg secret value\ntyped: gpg secret value\n"
                      "config: api:\n  token: t0k3n\n\nnamed: gpg secret value\n")
    kap = kapitan("refs", "--update-targets", cwd=tmp_path / "kap", env=keys.env)
    assert kap.returncode == 0, kap.stderr
    ours = run_clean("refs", "rotate", "--all", cwd=tmp_path / "ours", env=keys.env)
    assert ours.returncode == 0, ours.stderr
    assert "4 rotated, 0 unchanged" in ours.stderr
    for name in [*GPG_OLD, "named"]:
        kfile, ofile = tmp_path / "kap/refs/t1" / name, tmp_path / "ours/refs/t1" / name
        assert _shape(ofile) == _shape(kfile), name
        keys_order, rest = _shape(ofile)
        assert keys_order == ["data", "encoding", "recipients", "type"]  # `type` added
        assert rest["recipients"] == sorted([{"fingerprint": keys.alice},
                                             {"fingerprint": keys.bob}], key=str)
        # and line for line (recipients in any order), no newline at the end either
        assert _lines(ofile) == _lines(kfile), name
    # each tool reveals the other's rotation: the values did not change
    for side in ("kap", "ours"):
        assert _reveal_both(tmp_path / side, "templates/a.txt", keys.env) == before
    # both tools compile the same tags (hashes) from kcompile's rotated files
    kap = kapitan("compile", "--output-path", "k", cwd=tmp_path / "ours", env={})
    assert kap.returncode == 0, kap.stderr
    proc = run_clean("--output-path", "o", cwd=tmp_path / "ours")
    assert proc.returncode == 0, proc.stderr
    assert content(tmp_path / "ours/o/compiled") == content(tmp_path / "ours/k/compiled")
    tags = (tmp_path / "ours/o/compiled/t1/a.txt").read_text()
    rotated = {ln.split(": ", 1)[1] for ln in ours.stderr.splitlines() if ln.startswith("Rotated")}
    assert rotated == {ln.split(": ", 1)[1] for ln in tags.splitlines()}


@needs_kapitan
def test_write_over_old_ref_files_as_kapitan(tmp_path, keys):
    # Kapitan's --write replaces the file whatever it held: no `type`, old keys
    for side in ("kap", "ours"):
        refs = tmp_path / side / "refs/w"
        refs.mkdir(parents=True)
        for name, fixture in (("gpg", "v0.16.11/gpg/text"), ("b64", "v0.25.5/base64/b64"),
                              ("plain", "v0.25.5/plain/text"), ("untyped", "v0.25.5/base64/b64")):
            shutil.copy(REFS / fixture, refs / name)
        (tmp_path / side / "value").write_text("new value\n")
    writes = [("gpg:w/gpg", "-R", keys.alice), ("base64:w/b64",), ("plain:w/plain",),
              ("base64:w/untyped", "--base64")]
    for token, *rest in writes:
        kap_rest = ["--base64" if a == "--base64" else a for a in rest]
        kap = kapitan("refs", "--write", token, "-f", "value", *kap_rest, cwd=tmp_path / "kap",
                      env=keys.env)
        ours = run_clean("refs", "write", token, "-f", "value", *rest, cwd=tmp_path / "ours",
                         env=keys.env)
        assert (kap.returncode, ours.returncode) == (0, 0), kap.stderr + ours.stderr
    for name in ("b64", "plain", "untyped"):
        assert (tmp_path / "ours/refs/w" / name).read_bytes() == (
            tmp_path / "kap/refs/w" / name).read_bytes(), name
    kfile, ofile = tmp_path / "kap/refs/w/gpg", tmp_path / "ours/refs/w/gpg"
    assert _shape(ofile) == _shape(kfile)
    assert _lines(ofile) == _lines(kfile)
    for side in ("kap", "ours"):
        (tmp_path / side / "t.txt").write_text("?{gpg:w/gpg}")
        assert _reveal_both(tmp_path / side, "t.txt", keys.env) == "new value\n"


class _Vault(_OldVault):
    """A token lookup, KV v2 in memory, and a deterministic transit engine
    (ciphertext ``vault:<key>:<base64 plaintext>``)."""

    kv: ClassVar[dict[str, dict]] = {}

    def do_GET(self):
        path = self.path.split("?")[0]
        if self.headers.get("X-Vault-Token") != "root":
            self._reply(403, {"errors": ["denied"]})
        elif path in self.kv:
            self._reply(200, {"data": {"data": self.kv[path], "metadata": {}}})
        elif path.startswith("/v1/auth/token/lookup-self"):
            self._reply(200, {"data": {"id": "root"}})
        else:
            self._reply(404, {"errors": []})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        op, key = self.path.split("/")[-2:]
        if "/data/" in self.path:
            self.kv[self.path] = body["data"]
            self._reply(200, {"data": {"version": 1}})
        elif op == "encrypt":
            self._reply(200, {"data": {"ciphertext": f"vault:{key}:{body['plaintext']}"}})
        elif op == "decrypt" and key == "mykey":  # the fixture's vault:v1:<base64>
            self._reply(200, {"data": {"plaintext": body["ciphertext"].split(":", 2)[2]}})
        else:
            self._reply(400, {"errors": ["bad request"]})


@pytest.fixture
def vault():
    _Vault.kv = {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Vault)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_rotate_old_vaulttransit_ref_is_migrate_then_rotate(tmp_path, vault):
    # Kapitan 0.36.3 has no working rotation for vaulttransit (`--update` crashes
    # as above; --update-targets with TypeError: 'KapitanReferenceVaultTransitConfig'
    # object is not subscriptable), so kcompile's rotation of a file with VAULT_*
    # keys must equal `refs migrate` followed by the rotation.
    old = (REFS / "v0.32.0/vaulttransit/token").read_text().replace("http://127.0.0.1:8200", vault)
    assert "VAULT_ADDR" in old
    env = {"VAULT_TOKEN": "root"}
    for side in ("direct", "migrated"):
        (tmp_path / side / "refs/v").mkdir(parents=True)
        (tmp_path / side / "refs/v/token").write_text(old)
    assert run_clean("refs", "migrate", cwd=tmp_path / "migrated").returncode == 0
    for side in ("direct", "migrated"):
        proc = run_clean("refs", "rotate", "vaulttransit:v/token", "-K", "newkey",
                         cwd=tmp_path / side, env=env)
        assert proc.returncode == 0, proc.stderr
    direct = (tmp_path / "direct/refs/v/token").read_text()
    assert direct == (tmp_path / "migrated/refs/v/token").read_text()
    assert "VAULT_ADDR" not in direct and f"addr: {vault}" in direct
    doc = yaml.safe_load(direct)
    assert doc["vault_params"]["crypto_key"] == "newkey"
    assert base64.b64decode(doc["data"]).decode() == (
        "vault:newkey:" + base64.b64encode(b"sample-ciphertext").decode())


@needs_kapitan
def test_write_over_old_vaultkv_file_as_kapitan(tmp_path, vault):
    # the old file's VAULT_* keys are not read: the settings come from the
    # options and the environment, as in Kapitan
    env = {"VAULT_TOKEN": "root", "VAULT_ADDR": vault}
    for side in ("kap", "ours"):
        (tmp_path / side / "refs/w").mkdir(parents=True)
        shutil.copy(REFS / "v0.25.5/vaultkv/db", tmp_path / side / "refs/w/db")
        (tmp_path / side / "value").write_text("kv-secret")
    # no --vault-mount: Kapitan 0.36.3 ignores it (its model's default mount
    # `secret` wins), kcompile honours it (docs/kapitan-compat.md)
    args = ["-f", "value", "--vault-auth", "token", "--vault-key", "pw"]
    kap = kapitan("refs", "--write", "vaultkv:w/db", *args, cwd=tmp_path / "kap", env=env)
    ours = run_clean("refs", "write", "vaultkv:w/db", *args, cwd=tmp_path / "ours", env=env)
    assert (kap.returncode, ours.returncode) == (0, 0), kap.stderr + ours.stderr
    written = (tmp_path / "ours/refs/w/db").read_text()
    assert written == (tmp_path / "kap/refs/w/db").read_text()
    assert "VAULT_" not in written
    assert _Vault.kv == {"/v1/secret/data/w/db": {"pw": "kv-secret"}}
    (tmp_path / "ours/t.txt").write_text("?{vaultkv:w/db}")  # the files are the same
    assert _reveal_both(tmp_path / "ours", "t.txt", env) == "kv-secret"
