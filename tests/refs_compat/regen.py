#!/usr/bin/env python3
"""Regenerate the Kapitan-written ref fixtures under tests/refs_compat/ with real Kapitan.

What it writes, all with kapitan 0.36.3 (``$KAPITAN_VENV``, default ``.kapitan-venv`` at the repository root):

- ``gpg-test-key.asc``: a throwaway gpg key (no passphrase, TEST ONLY), made
  once with gpg and then reused, so the committed gpg refs stay decryptable;
- ``project/refs/``: refs of every type, written with ``kapitan refs --write``
  (``plain``, ``base64``, ``env``, ``gpg``, each also ``--base64``; ``awskms``,
  ``gkms`` and ``azkms`` with Kapitan's offline ``mock`` key) and, for the vault
  types that need a server to write, built with Kapitan's own ref classes;
  plus the refs ``kapitan compile`` creates from ``||functions`` tags;
- ``project/compiled/``: ``kapitan compile`` of both targets (tags only);
- ``revealed/compiled/``: ``kapitan compile --reveal -t revealable``;
- ``expected.json``: the plaintext of every ref that can be revealed offline.

Usage: python tests/refs_compat/regen.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE / "project"
KAPITAN_VENV = Path(os.environ.get("KAPITAN_VENV", Path(__file__).resolve().parents[2] / ".kapitan-venv"))
KAPITAN = KAPITAN_VENV / "bin" / "kapitan"
KPYTHON = KAPITAN_VENV / "bin" / "python"
KEY_FILE = HERE / "gpg-test-key.asc"
ENV = {"KAPITAN_VAR_dbuser": "admin-from-env"}

# ref path -> (type, plaintext, extra ``kapitan refs --write`` args)
WRITES = {
    "plain/text": ("plain", "plain value\n", []),
    "plain/b64": ("plain", "plain base64 value", ["--base64"]),
    "base64/text": ("base64", "s3cret-base64", []),
    "base64/b64": ("base64", "double encoded", ["--base64"]),
    "base64/config": ("base64", "db:\n  user: bob\n  port: 5432\n", []),
    "env/dbuser": ("env", "default-user", []),
    "gpg/text": ("gpg", "gpg secret value", []),
    "gpg/b64": ("gpg", "gpg base64 value", ["--base64"]),
    "gpg/config": ("gpg", "api:\n  token: t0k3n\n", []),
    "awskms/mock": ("awskms", "anything", ["--key", "mock"]),
    "gkms/mock": ("gkms", "anything", ["--key", "mock"]),
    "azkms/mock": ("azkms", "anything", ["--key", "mock"]),
}

# Vault refs: Kapitan can only write them through a Vault server, so they are
# built with Kapitan's classes (encrypt=False) exactly as it would store them.
VAULT_REFS = r"""
import sys, yaml
from kapitan.refs.secrets.vaultkv import VaultSecret
from kapitan.refs.secrets.vaulttransit import VaultTransit
refs = sys.argv[1]
kv = VaultSecret(b"apps/db:password", {"auth": "token", "addr": "http://127.0.0.1:8200"},
                 encrypt=False)
tr = VaultTransit(b"vault:v1:c2FtcGxlLWNpcGhlcnRleHQ=",
                  {"auth": "token", "crypto_key": "mykey"}, encrypt=False)
for path, ref in (("vaultkv/db", kv), ("vaulttransit/token", tr)):
    with open(f"{refs}/{path}", "w") as fp:
        yaml.safe_dump(ref.dump(), stream=fp, default_flow_style=False)
"""


def run(cmd: list[str], env: dict[str, str], cwd: Path, stdin: str | None = None) -> None:
    """Run a command, failing loudly."""
    proc = subprocess.run(cmd, cwd=cwd, env=env, input=stdin, text=True, capture_output=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")


def gpg_home(tmp: Path) -> dict[str, str]:
    """A GNUPGHOME holding the test key (made on first use)."""
    home = tmp / "gnupg"
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    if not KEY_FILE.exists():
        run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key",
             "kapitan-lite test key (TEST ONLY) <test@kapitan-lite.invalid>",
             "future-default", "default", "never"], env, tmp)
        out = subprocess.run(["gpg", "--armor", "--export-secret-keys"], env=env,
                             capture_output=True, text=True, check=True).stdout
        KEY_FILE.write_text("# Throwaway key for tests only: never use it for real secrets.\n" + out)
    run(["gpg", "--batch", "--import", str(KEY_FILE)], env, tmp)
    # Kapitan encrypts only to trusted keys: trust the imported test key fully.
    listing = subprocess.run(["gpg", "--list-keys", "--with-colons"], env=env,
                             capture_output=True, text=True, check=True).stdout
    fpr = next(ln.split(":")[9] for ln in listing.splitlines() if ln.startswith("fpr"))
    run(["gpg", "--batch", "--import-ownertrust"], env, tmp, stdin=f"{fpr}:6:\n")
    return env


def main() -> None:
    if not KAPITAN.exists():
        sys.exit(f"no kapitan at {KAPITAN} (set KAPITAN_VENV)")
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        env = {**gpg_home(tmp), **ENV}
        fpr = subprocess.run(["gpg", "--list-keys", "--with-colons"], env=env,
                             capture_output=True, text=True, check=True).stdout
        fingerprint = next(ln.split(":")[9] for ln in fpr.splitlines() if ln.startswith("fpr"))
        (PROJECT / "inventory" / "classes" / "gpg.yml").write_text(
            "# written by tests/refs_compat/regen.py: the test key's fingerprint\n"
            "parameters:\n  kapitan:\n    secrets:\n      gpg:\n        recipients:\n"
            f"          - fingerprint: {fingerprint}\n")
        for sub in ("refs", "compiled"):
            shutil.rmtree(PROJECT / sub, ignore_errors=True)
        shutil.rmtree(HERE / "revealed", ignore_errors=True)
        (PROJECT / "refs").mkdir()
        for path, (type_name, text, args) in WRITES.items():
            extra = ["-R", fingerprint] if type_name == "gpg" else []
            run([str(KAPITAN), "refs", "--write", f"{type_name}:{path}", "-f", "-",
                 *args, *extra], env, PROJECT, stdin=text)
        for sub in ("vaultkv", "vaulttransit"):
            (PROJECT / "refs" / sub).mkdir()
        run([str(KPYTHON), "-c", VAULT_REFS, str(PROJECT / "refs")], env, PROJECT)
        run([str(KAPITAN), "compile"], env, PROJECT)
        run([str(KAPITAN), "compile", "--reveal", "-t", "revealable",
             "--output-path", str(HERE / "revealed")], env, PROJECT)
        expected = {path: (text if "--base64" not in args else None)
                    for path, (type_name, text, args) in WRITES.items()
                    if type_name not in ("awskms", "gkms", "azkms")}
        expected["env/dbuser"] = ENV["KAPITAN_VAR_dbuser"]
        (HERE / "expected.json").write_text(json.dumps(
            {k: v for k, v in expected.items() if v is not None}, indent=2, sort_keys=True) + "\n")
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, check=False)
    print("regenerated", HERE)


if __name__ == "__main__":
    main()
