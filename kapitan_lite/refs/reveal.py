"""Reveal a ref's plaintext, for the types that need no key.

``base64`` refs are only encoded and ``plain`` refs are stored as they are,
so both reveal without any key. Encrypted types (gpg, age, kms, vault) need
keys and return ``None`` here.
"""

from __future__ import annotations

import base64
import binascii

from .store import RefFile


def reveal_plaintext(ref: RefFile) -> str | None:
    """The plaintext of ``ref`` as ``kapitan refs --reveal`` prints it, or ``None``
    when this type cannot be revealed here (or the content is not text).

    As in Kapitan, a base64 ref written with ``encoding: base64`` reveals to
    the still-encoded text: that is what a revealed compile writes out.
    """
    if ref.type == "plain":
        return ref.data
    if ref.type == "base64":
        try:
            return base64.b64decode(ref.data).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None  # binary content: Kapitan reveals it as the base64 it is stored as
    return None
