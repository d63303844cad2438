"""Real keys and servers for the refs tests: gpg keyrings, age identities, a local AWS KMS.

Import the fixtures into a test module (``from refs_support import gpg_keys``)
to use them. Everything is local: a temporary ``GNUPGHOME`` with generated
keys, generated age identities, and moto's server mode on 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from kapitan_venv import ensure_kapitan

# kapitan 0.36.3 in a side venv (never a dependency), installed by the tests
# themselves on first use; tests that compare with real Kapitan skip without it.
KAPITAN, KAPITAN_MISSING = ensure_kapitan()
needs_kapitan = pytest.mark.skipif(bool(KAPITAN_MISSING), reason=KAPITAN_MISSING)
needs_gpg = pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg not installed")


@dataclass
class GpgKeys:
    """A keyring with two generated keys; ``env`` points gpg at it."""

    home: Path
    alice: str  # fingerprints
    bob: str

    @property
    def env(self) -> dict[str, str]:
        return {"GNUPGHOME": str(self.home)}

    def run(self, *args: str, stdin: str | None = None) -> str:
        """Run gpg on this keyring."""
        return subprocess.run(["gpg", "--batch", *args], env={**os.environ, **self.env},
                              input=stdin, capture_output=True, text=True, check=True).stdout

    def fingerprint(self, uid: str) -> str:
        out = self.run("--list-keys", "--with-colons", uid)
        return next(ln.split(":")[9] for ln in out.splitlines() if ln.startswith("fpr"))

    def delete_secret(self, fingerprint: str) -> None:
        """Forget a secret key (its refs can then no longer be decrypted here)."""
        self.run("--yes", "--delete-secret-keys", fingerprint)


def make_gpg_keys(home: Path) -> GpgKeys:
    """A fresh ``GNUPGHOME`` with keys for alice and bob (no passphrase, no expiry)."""
    home.mkdir(mode=0o700, parents=True)
    keys = GpgKeys(home, "", "")
    for name in ("alice", "bob"):
        keys.run("--passphrase", "", "--quick-gen-key", f"{name} <{name}@example.com>",
                 "future-default", "default", "never")
    keys.alice = keys.fingerprint("alice@example.com")
    keys.bob = keys.fingerprint("bob@example.com")
    return keys


def compat_key(tmp_path_factory: pytest.TempPathFactory):
    """A keyring holding the committed test-only key (tests/refs_compat/gpg-test-key.asc)
    that the Kapitan-written fixtures are encrypted to, trusted; a generator for a fixture."""
    if shutil.which("gpg") is None:
        pytest.skip("gpg not installed")
    home = tmp_path_factory.mktemp("compat-gpg") / "home"
    home.mkdir(mode=0o700)
    keys = GpgKeys(home, "", "")
    keys.run("--import", str(Path(__file__).resolve().parent / "refs_compat/gpg-test-key.asc"))
    fpr = next(ln.split(":")[9] for ln in keys.run("--list-keys", "--with-colons").splitlines()
               if ln.startswith("fpr"))
    keys.run("--import-ownertrust", stdin=f"{fpr}:6:\n")
    keys.alice = fpr
    yield keys
    stop_gpg_agent(home)


def stop_gpg_agent(home: Path) -> None:
    """Stop the agent gpg started for this keyring."""
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(home)},
                   check=False, capture_output=True)


@pytest.fixture(scope="session")
def gpg_keys(tmp_path_factory: pytest.TempPathFactory):
    """A keyring shared by the session's tests (keys are only read from it)."""
    if shutil.which("gpg") is None:
        pytest.skip("gpg not installed")
    home = tmp_path_factory.mktemp("gpg") / "home"
    keys = make_gpg_keys(home)
    yield keys
    stop_gpg_agent(home)


@dataclass
class AgeKey:
    """An age identity file and its recipient."""

    identity_file: Path
    recipient: str


def make_age_key(path: Path) -> AgeKey:
    """Generate an age identity into ``path``."""
    import pyrage

    ident = pyrage.x25519.Identity.generate()
    path.write_text(f"# test identity\n{ident}\n")
    return AgeKey(path, str(ident.to_public()))


@pytest.fixture(scope="session")
def age_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[AgeKey, AgeKey]:
    """Two age identities."""
    root = tmp_path_factory.mktemp("age")
    return make_age_key(root / "one.txt"), make_age_key(root / "two.txt")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalKms:
    """moto's server on 127.0.0.1 with two KMS keys; ``env`` points boto3 at it."""

    url: str
    key1: str
    key2: str

    @property
    def env(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.url, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def local_kms():
    """A real KMS API (moto server mode) on a free local port, for the session."""
    pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        kms = LocalKms(f"http://127.0.0.1:{port}", "", "")
        client = boto3.session.Session().client(
            "kms", endpoint_url=kms.url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing")
        kms.key1 = client.create_key()["KeyMetadata"]["KeyId"]
        kms.key2 = client.create_key()["KeyMetadata"]["KeyId"]
        yield kms
    finally:
        proc.terminate()
        proc.wait(timeout=10)
