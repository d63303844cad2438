"""``age`` refs (kapitan-lite only): encrypted with age through pyrage.

File: ``data`` is base64 of the binary age file, ``recipients`` the sorted
``age1...`` public keys. Recipients come from ``--recipient`` or from the
target's ``parameters.kapitan.secrets.age.recipients``. Identities (secret
keys, ``AGE-SECRET-KEY-1...`` lines as ``age-keygen`` writes them) come from
``--identity FILE`` or from the files named in ``KCOMPILE_AGE_IDENTITY_FILE``
(separated by ``:``). Kapitan has no age type: it can't read these refs.
"""

from __future__ import annotations

import os
from typing import Any

import pyrage

from .backends import Backends, RefParams, b64, unb64, utf8
from .store import RefError, RefFile

IDENTITY_ENV = "KCOMPILE_AGE_IDENTITY_FILE"


def read_identities(path: str) -> list[pyrage.x25519.Identity]:
    """The age identities in one file (comments and blank lines skipped)."""
    try:
        with open(path, encoding="utf-8") as fp:
            lines = fp.read().splitlines()
    except OSError as exc:
        raise RefError(f"age identity file {path}: {exc.strerror}") from None
    out = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            out.append(pyrage.x25519.Identity.from_str(line))
        except pyrage.IdentityError:
            raise RefError(f"age identity file {path}:{number}: not an age identity") from None
    return out


class AgeType:
    """Encrypts to age recipients, decrypts with identity files."""

    name = "age"

    def __init__(self, backends: Backends):
        self.backends = backends
        self._identities: list[pyrage.x25519.Identity] | None = None

    def identities(self) -> list[pyrage.x25519.Identity]:
        """Identities from ``--identity`` and ``KCOMPILE_AGE_IDENTITY_FILE``, read once."""
        if self._identities is None:
            files = list(self.backends.identities)
            files += [p for p in os.environ.get(IDENTITY_ENV, "").split(os.pathsep) if p]
            if not files:
                raise RefError(f"age refs need an identity to reveal: give --identity FILE "
                               f"or set {IDENTITY_ENV}")
            self._identities = [i for path in files for i in read_identities(path)]
        return self._identities

    def _recipients(self, params: RefParams) -> list[str]:
        recipients = params.recipients or params.section("age").get("recipients") or ()
        out = sorted({str(r).strip() for r in recipients})
        if not out:
            raise params.missing("age recipients", "--recipient age1...", "age.recipients")
        return out

    def _encrypt(self, payload: bytes, encoding: str, recipients: list[str]) -> dict[str, Any]:
        keys = []
        for rec in recipients:
            try:
                keys.append(pyrage.x25519.Recipient.from_str(rec))
            except pyrage.RecipientError:
                raise RefError(f"age: {rec!r} is not an age recipient (age1...)") from None
        data = pyrage.encrypt(payload, keys)
        return {"data": b64(data), "encoding": encoding, "recipients": recipients,
                "type": self.name}

    def encrypt(self, payload: bytes, encoding: str, params: RefParams) -> dict[str, Any]:
        """Encrypt to the recipients of ``params``."""
        return self._encrypt(payload, encoding, self._recipients(params))

    def reveal(self, ref: RefFile) -> str:
        """Decrypt with the identities."""
        what = f"ref age:{ref.path}"
        try:
            plain = pyrage.decrypt(unb64(ref.data, what), self.identities())
        except pyrage.DecryptError as exc:
            raise RefError(f"{what}: cannot decrypt with the given identities ({exc})") from None
        return utf8(plain, what)

    def rotate(self, ref: RefFile, params: RefParams) -> dict[str, Any] | None:
        """Re-encrypt to new recipients; ``None`` when they are already the ref's."""
        new = self._recipients(params)
        if new == sorted(str(r) for r in ref.extra.get("recipients") or ()):
            return None
        return self._encrypt(self.reveal(ref).encode(), ref.encoding, new)
