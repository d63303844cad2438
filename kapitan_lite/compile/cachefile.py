"""How the incremental cache's files are stored: plain data, marshalled, behind a header.

The staging area's record of the spare tree (``spare.py``) is stored so too.

At 1000 targets the cache's state is some 200,000 small values (2.6 MB as JSON),
read by every run and written by every run that compiled something.
``json`` takes 20-35 ms to read it and 35-40 ms to write it; ``marshal``,
the format of Python's own ``.pyc`` files, 12-16 ms and 9-12 ms.

marshal only builds values: unlike pickle it calls no constructor and runs
no code, and what it reads is checked field by field by the cache's loader,
as the JSON was. Its format belongs to the Python version and it does not
guard against damaged input, so each file starts with a header naming the
format and the Python that wrote it, then the SHA-256 of the payload.
A file whose header or digest does not match is refused with
:class:`ValueError`, and the cache then treats it as missing.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sys
from typing import Any

# Version 2 of marshal's format keeps no back-references: the cache's values
# are shared by many records, and tracking them (versions 3 and 4) makes
# writing the state 14-17 ms rather than 9-12 ms, for a file 13% smaller.
_VERSION = 2
# Which Python wrote it: marshal's format may differ between versions.
_MAGIC = f"kcompile-cache 1 {sys.implementation.cache_tag} {_VERSION}\n".encode()
_DIGEST_SIZE = hashlib.sha256().digest_size


def encode(obj: Any) -> bytes:
    """The bytes of a cache file holding ``obj`` (dicts, lists, tuples, str, int, None, bool)."""
    payload = marshal.dumps(obj, _VERSION)
    return b"".join((_MAGIC, hashlib.sha256(payload).digest(), payload))


def decode(raw: bytes) -> Any:
    """What a cache file holds; :class:`ValueError` if it is not one this Python wrote, intact."""
    start = len(_MAGIC) + _DIGEST_SIZE
    if not raw.startswith(_MAGIC) or len(raw) < start:
        raise ValueError("not a cache file of this kcompile and Python")
    payload = memoryview(raw)[start:]
    if hashlib.sha256(payload).digest() != raw[len(_MAGIC):start]:
        raise ValueError("damaged cache file")
    try:
        return marshal.loads(payload)
    except (EOFError, TypeError) as exc:  # cannot happen with an intact digest, but cheap
        raise ValueError(f"damaged cache file: {exc}") from exc


def read(path: str) -> Any:
    """Decode the cache file at ``path`` (:class:`OSError`, :class:`ValueError`)."""
    return read_stamped(path)[0]


def read_stamped(path: str) -> tuple[Any, tuple[int, int, int]]:
    """Decode the cache file at ``path``, with the inode, size and mtime of the file read.

    :func:`write` replaces a file by another, so two reads with the same
    stamp read the same bytes.
    """
    with open(path, "rb") as fp:
        raw = fp.read()
        st = os.fstat(fp.fileno())
    return decode(raw), (st.st_ino, st.st_size, st.st_mtime_ns)


def write(path: str, data: bytes) -> None:
    """Replace the file at ``path`` with ``data`` in one step: a reader sees old or new."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fp:
            fp.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
