"""``plain`` refs: the value stored as it is, and substituted into compiled output.

Kapitan writes plain refs' values into ``compiled/`` even without
``--reveal``; they are for values that are not secret.
"""

from __future__ import annotations

from typing import Any

from .backends import Backends, RefParams, not_encrypted, utf8
from .store import RefFile


class PlainType:
    """Stores the value as text in ``data``."""

    name = "plain"

    def __init__(self, backends: Backends):
        self.backends = backends

    def encrypt(self, payload: bytes, encoding: str, params: RefParams) -> dict[str, Any]:
        """``data`` is the text itself."""
        return {"data": utf8(payload, f"{self.name} ref"), "encoding": encoding, "type": self.name}

    def reveal(self, ref: RefFile) -> str:
        """The stored text."""
        return ref.data

    def rotate(self, ref: RefFile, params: RefParams) -> dict[str, Any] | None:
        """Plain refs are not encrypted."""
        raise not_encrypted(ref)
