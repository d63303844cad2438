"""``env`` refs: revealed from the environment, with the file's value as the default.

The variable is ``KCOMPILE_VAR_<name>``, else Kapitan's ``KAPITAN_VAR_<name>``
(each tried as written, then upper-cased), where ``<name>`` is the last
component of the ref path. Without either, the stored ``data`` is used.
"""

from __future__ import annotations

import os
from typing import Any

from .backends import Backends, RefParams, not_encrypted, utf8
from .store import RefFile

PREFIXES = ("KCOMPILE_VAR_", "KAPITAN_VAR_")


class EnvType:
    """``data`` is the default value."""

    name = "env"

    def __init__(self, backends: Backends):
        self.backends = backends

    def encrypt(self, payload: bytes, encoding: str, params: RefParams) -> dict[str, Any]:
        """The default value as text."""
        return {"data": utf8(payload, f"{self.name} ref"), "encoding": encoding, "type": self.name}

    def reveal(self, ref: RefFile) -> str:
        """The environment's value, or the stored default."""
        name = ref.path.split("/")[-1]
        for prefix in PREFIXES:
            for var in (prefix + name, (prefix + name).upper()):
                value = os.environ.get(var)
                if value is not None:
                    return value
        return ref.data

    def rotate(self, ref: RefFile, params: RefParams) -> dict[str, Any] | None:
        """Env refs are not encrypted."""
        raise not_encrypted(ref)
