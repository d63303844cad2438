"""Refs written by older Kapitans (0.29 to 0.35) compile, embed, reveal and migrate as in 0.36.3.

tests/refs_compat/old/ holds the refs each old Kapitan wrote (its own classes,
tests/refs_compat/old/write_refs.py), what kapitan 0.36.3 compiled, embedded
and revealed from them, and each file as 0.36.3 loads and dumps it (what
``refs migrate`` writes); tests/refs_compat/old/regen.py regenerates it all.
"""

import base64
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from typing import ClassVar

import pytest
from conftest import REPO, content
from refs_support import KAPITAN, compat_key, needs_gpg, needs_kapitan

OLD = REPO / "tests" / "refs_compat" / "old"
VERSIONS = json.loads((OLD / "versions.json").read_text())
INSTALLED = sorted(v for v, info in VERSIONS.items() if info["installed"])
# Kapitan's vault model reads these from the environment (any case): keep them out.
VAULT_VARS = {"addr", "key", "mount", "auth", "engine", "namespace", "vault_addr",
              "vault_capath", "vault_skip_verify", "vault_namespace", "vault_cacert",
              "vault_client_key", "vault_client_cert", "skip_verify", "always_latest",
              "crypto_key", "capath", "cacert", "client_key", "client_cert"}


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.lower() not in VAULT_VARS}


def run_clean(*args, cwd, env=None):
    """kcompile with none of the vault model's variables in the environment."""
    return subprocess.run([sys.executable, "-m", "kapitan_lite", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120,
                          env={**_clean_env(), **(env or {})})


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    shutil.copytree(OLD / "project", root, ignore=shutil.ignore_patterns("compiled"))
    return root


def _key(version):
    return tuple(int(part) for part in version.split("."))


def test_fixtures_cover_the_versions():
    # one per ref-format era: gpg secrets without a type, refs before
    # vaulttransit, before the vault model, with it
    assert {"0.16.11", "0.25.5", "0.29.5", "0.32.0", "0.34.7"} <= set(INSTALLED)
    base = {"plain", "base64", "gpg", "awskms", "gkms", "vaultkv"}
    since = {"0.16.11": {"gpg"}, "0.25.5": base, "0.29.5": base | {"env", "azkms"},
             "0.32.0": base | {"env", "azkms", "vaulttransit"}}
    for version in INSTALLED:
        era = max((v for v in since if _key(v) <= _key(version)), key=_key)
        assert {p.split("/")[0] for p in VERSIONS[version]["refs"]} == since[era], version


def test_tags_and_embedded_refs_compile_as_kapitan_0_36_3(project):
    proc = run_clean(cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert content(project / "compiled") == content(OLD / "project/compiled")
    # embed-refs: true in .kapitan, as the old projects set it
    (project / ".kapitan").write_text("compile:\n  embed-refs: true\n")
    proc = run_clean("--output-path", "emb", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert content(project / "emb/compiled") == content(OLD / "embedded/compiled")
    vault = (project / "emb/compiled/online/online.txt").read_text()
    assert "VAULT_ADDR" not in vault  # the old keys come out under their new names


@pytest.fixture(scope="module")
def test_key(tmp_path_factory):
    """A keyring holding the committed (test-only) key Kapitan encrypted to."""
    yield from compat_key(tmp_path_factory)


@needs_gpg
def test_reveal_matches_kapitan_0_36_3(project, test_key):
    targets = [a for v in INSTALLED for a in ("-t", "v" + v.replace(".", "_"))]
    proc = run_clean("--reveal", "--output-path", "rev", *targets, cwd=project,
                     env={**test_key.env, "KAPITAN_VAR_text": "env-from-environment"})
    assert proc.returncode == 0, proc.stderr
    assert content(project / "rev/compiled") == content(OLD / "revealed/compiled")


def test_migrate_writes_what_kapitan_0_36_3_dumps(project):
    changed = sorted(
        f"refs/{p.relative_to(OLD / 'migrated')}" for p in (OLD / "migrated").rglob("*")
        if p.is_file() and p.read_bytes() != (
            OLD / "project/refs" / p.relative_to(OLD / "migrated")).read_bytes())
    assert changed, "the fixtures have old-format files"
    check = run_clean("refs", "migrate", "--check", cwd=project)
    assert check.returncode == 1, check.stderr
    assert sorted(check.stdout.splitlines()) == changed
    assert content(project / "refs") == content(OLD / "project/refs")  # --check changes nothing
    assert run_clean("refs", "migrate", cwd=project).returncode == 0
    assert content(project / "refs") == content(OLD / "migrated")
    again = run_clean("refs", "migrate", "--check", cwd=project)
    assert (again.returncode, again.stdout) == (0, "")
    # tags, hashes and embedded refs are what they were before the migration
    (project / ".kapitan").write_text("compile:\n  embed-refs: true\n")
    assert run_clean("--output-path", "emb", cwd=project).returncode == 0
    assert content(project / "emb/compiled") == content(OLD / "embedded/compiled")
    (project / ".kapitan").unlink()
    assert run_clean(cwd=project).returncode == 0
    assert content(project / "compiled") == content(OLD / "project/compiled")


def _kms_project(root):
    (root / "inventory/targets").mkdir(parents=True)
    (root / "inventory/classes").mkdir()
    (root / "templates").mkdir()
    (root / "refs/k").mkdir(parents=True)
    (root / "inventory/targets/t.yml").write_text(
        "parameters:\n  kapitan:\n    vars:\n      target: t\n    compile:\n"
        "      - output_path: .\n        input_type: jinja2\n        input_paths: [templates/a]\n")
    (root / "templates/a").write_text("aws: ?{awskms:k/aws}\n")
    (root / "refs/k/aws").write_text("data: bW9jaw==\nencoding: original\ntype: awskms\n")


def test_kms_ref_without_key_is_refused_as_by_kapitan_until_migrated(tmp_path):
    _kms_project(tmp_path)
    proc = run_clean(cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == (
        "templates/a:1: t: ref awskms:k/aws: the ref file has no 'key', so Kapitan 0.36.3 "
        "cannot read it: run 'kcompile refs migrate --key KEY' to add it")
    check = run_clean("refs", "migrate", "--check", cwd=tmp_path)
    assert check.returncode == 2 and "refs/k/aws" in check.stderr
    assert run_clean("refs", "migrate", "--key", "mock", cwd=tmp_path).returncode == 0
    assert (tmp_path / "refs/k/aws").read_text() == (
        "data: bW9jaw==\nencoding: original\nkey: mock\ntype: awskms\n")
    proc = run_clean(cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    digest = hashlib.sha256(b"k/awsbW9jaw==").hexdigest()[:8]  # the hash did not change
    assert (tmp_path / "compiled/t/a").read_text() == f"aws: ?{{awskms:k/aws:{digest}}}"


def test_refs_in_secrets_dir_need_refs_path_as_in_kapitan(tmp_path):
    _kms_project(tmp_path)
    (tmp_path / "refs").rename(tmp_path / "secrets")
    proc = run_clean(cwd=tmp_path)
    assert proc.returncode == 2
    assert "secrets exists: Kapitan 0.36.3 reads refs from --refs-path" in proc.stderr
    # with keys older Kapitans read and 0.36.3 ignores (so do we)
    (tmp_path / ".kapitan").write_text("compile:\n  refs-path: ./secrets\n"
                                       "  compiled-path: ./elsewhere\n  cache-paths: [x]\n"
                                       "refs:\n  refs-path: ./secrets\n")
    assert run_clean("refs", "migrate", "--key", "mock", cwd=tmp_path).returncode == 0
    proc = run_clean(cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "compiled/t/a").read_text().startswith("aws: ?{awskms:k/aws:")


VAULT_OLD = ("data: YXBwcy9kYjpwYXNzd29yZA==\nencoding: original\ntype: vaultkv\nvault_params:\n"
             "  VAULT_ADDR: http://vault:8200\n  VAULT_SKIP_VERIFY: 'false'\n  auth: token\n")


@needs_kapitan
def test_vault_settings_from_the_environment_embed_as_in_kapitan(tmp_path):
    # Kapitan's vault model fills a field missing from the file from the
    # environment, under its name or alias, in any case: ADDR, Mount, KEY...
    _kms_project(tmp_path)
    (tmp_path / "refs/k/aws").unlink()
    (tmp_path / "refs/k/kv").write_text(VAULT_OLD)
    (tmp_path / "refs/k/min").write_text("data: YTpi\ntype: vaultkv\nvault_params:\n"
                                         "  auth: token\n  Vault_Namespace: team\n")
    (tmp_path / "refs/k/untyped").write_text("data: aGVsbG8=\n")
    (tmp_path / "templates/a").write_text("kv: ?{vaultkv:k/kv}\nmin: ?{vaultkv:k/min}\n"
                                          "untyped: ?{base64:k/untyped}\n")
    env = {"ADDR": "http://from-env:8200", "Mount": "kv2", "KEY": "k1", "always_latest": "yes"}
    kap = subprocess.run([str(KAPITAN), "compile", "--embed-refs", "--output-path", "kap"],
                         cwd=tmp_path, capture_output=True, text=True,
                         env={**_clean_env(), **env})
    assert kap.returncode == 0, kap.stderr
    proc = run_clean("--embed-refs", "--output-path", "ours", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert content(tmp_path / "ours/compiled") == content(tmp_path / "kap/compiled")
    (tmp_path / "refs/k/kv").write_text(VAULT_OLD + "  VAULT_TOKEN: s3cret\n")
    proc = run_clean("--embed-refs", cwd=tmp_path)
    assert proc.returncode == 2
    assert ("ref vaultkv:k/kv: vault_params.VAULT_TOKEN: unknown setting (Kapitan 0.36.3 "
            "refuses it)") in proc.stderr


class _Vault(http.server.BaseHTTPRequestHandler):
    """The few Vault HTTP API calls a reveal makes: token lookup, KV v2 read, transit decrypt."""

    SECRETS: ClassVar[dict[str, dict[str, str]]] = {"/v1/secret/data/apps/db": {"password": "kv-value"}}

    def _reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.headers.get("X-Vault-Token") != "root":
            self._reply(403, {"errors": ["permission denied"]})
        elif self.path.startswith("/v1/auth/token/lookup-self"):
            self._reply(200, {"data": {"id": "root"}})
        elif self.path.split("?")[0] in self.SECRETS:
            self._reply(200, {"data": {"data": self.SECRETS[self.path.split("?")[0]]}})
        else:
            self._reply(404, {"errors": []})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/v1/transit/decrypt/mykey" and body.get("ciphertext") == "vault:v1:abc":
            self._reply(200, {"data": {"plaintext": base64.b64encode(b"transit-value").decode()}})
        else:
            self._reply(400, {"errors": ["bad request"]})

    def log_message(self, *args):
        pass


@pytest.fixture
def vault_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Vault)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@needs_kapitan
def test_old_vault_refs_reveal_as_in_kapitan(tmp_path, vault_server):
    # vault_params as Kapitan < 0.34 wrote them: VAULT_ADDR, VAULT_SKIP_VERIFY, no defaults
    refs = tmp_path / "refs"
    refs.mkdir()
    (refs / "kv").write_text(
        "data: YXBwcy9kYjpwYXNzd29yZA==\nencoding: original\ntype: vaultkv\nvault_params:\n"
        f"  VAULT_ADDR: {vault_server}\n  VAULT_SKIP_VERIFY: 'true'\n  auth: token\n")
    (refs / "tr").write_text(
        "data: dmF1bHQ6djE6YWJj\nencoding: original\ntype: vaulttransit\nvault_params:\n"
        f"  VAULT_ADDR: {vault_server}\n  auth: token\n  crypto_key: mykey\n")
    env = {**_clean_env(), "VAULT_TOKEN": "root"}
    for name, value in (("kv", "kv-value"), ("tr", "transit-value")):
        kap = subprocess.run([str(KAPITAN), "refs", "--reveal", "--ref-file", f"refs/{name}"],
                             cwd=tmp_path, capture_output=True, text=True, env=env)
        ours = run_clean("refs", "reveal", "--ref-file", f"refs/{name}", cwd=tmp_path,
                         env={"VAULT_TOKEN": "root"})
        assert (kap.returncode, ours.returncode) == (0, 0), kap.stderr + ours.stderr
        assert ours.stdout == kap.stdout == value
