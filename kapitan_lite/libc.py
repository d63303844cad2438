"""The C library, for the few calls that Python's ``os`` module lacks (prctl, renameat2).

It is loaded once per process, on first use: importing ``ctypes`` and
opening the library cost some 5-9 ms, which a process forked after that
does not pay again (the compile loads it before forking its workers).
"""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def libc() -> Any:
    """This process's C library (:class:`OSError` where it cannot be opened)."""
    import ctypes

    return ctypes.CDLL(None, use_errno=True)
