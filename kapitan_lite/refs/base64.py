"""``base64`` refs: the value base64-encoded in the file (encoded, not encrypted)."""

from __future__ import annotations

from typing import Any

from .backends import Backends, RefParams, b64, not_encrypted, unb64
from .store import RefFile


class Base64Type:
    """``data`` is base64 of the value."""

    name = "base64"

    def __init__(self, backends: Backends):
        self.backends = backends

    def encrypt(self, payload: bytes, encoding: str, params: RefParams) -> dict[str, Any]:
        """Base64 of the payload."""
        return {"data": b64(payload), "encoding": encoding, "type": self.name}

    def reveal(self, ref: RefFile) -> str:
        """The decoded value; binary values come back as the stored base64, as in Kapitan."""
        raw = unb64(ref.data, f"ref base64:{ref.path}")
        try:
            return raw.decode()
        except UnicodeDecodeError:
            return ref.data

    def rotate(self, ref: RefFile, params: RefParams) -> dict[str, Any] | None:
        """Base64 refs are not encrypted."""
        raise not_encrypted(ref)
