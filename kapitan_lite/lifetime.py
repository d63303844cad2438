"""Processes that die with the process that started them.

A compile worker, and the ``helm`` or ``external`` commands a worker runs,
must not outlive the run, whatever killed it (``SIGKILL`` included): the
kernel sends them ``SIGKILL`` when their parent dies (``PR_SET_PDEATHSIG``,
Linux). Elsewhere the request is a no-op and the pipes' EOF remains.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

from .libc import libc

_PR_SET_PDEATHSIG = 1


def _prctl() -> Callable[..., int] | None:
    try:
        return libc().prctl  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not Linux
        return None


def preload() -> None:
    """Load what :func:`die_with_parent` needs, so that processes forked later need not."""
    _prctl()


def die_with_parent(parent: int) -> None:
    """Have the kernel SIGKILL this process when ``parent`` dies; exit if it already has."""
    prctl = _prctl()
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def child_dies_with_us() -> Callable[[], None]:
    """A ``preexec_fn`` for :mod:`subprocess`: the command dies when this process does."""
    parent = os.getpid()
    return lambda: die_with_parent(parent)
