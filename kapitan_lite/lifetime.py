"""Processes that die with the process that started them.

A compile worker, and the ``helm`` or ``external`` commands a worker runs,
must not outlive the run, whatever killed it (``SIGKILL`` included): the
kernel sends them ``SIGKILL`` when their parent dies (``PR_SET_PDEATHSIG``,
Linux). Elsewhere the request is a no-op and the pipes' EOF remains.
"""

from __future__ import annotations

import os
import signal
import sys
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


def fork_child() -> int:
    """Fork a process that dies with this one: 0 in the child, the child's pid here.

    The child ignores Ctrl-C (this process handles it and kills its children)
    and takes SIGTERM's default action. :class:`OSError` if no process can be made.
    """
    parent = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    # A SIGINT or SIGTERM that came during fork would be raised inside an
    # at-fork hook, where Python drops it: hold them until fork is done.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        pid = os.fork()
    except OSError:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        raise
    if pid == 0:
        try:
            die_with_parent(parent)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        except BaseException:
            os._exit(1)
        return 0
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    return pid


def kill_child(pid: int) -> None:
    """SIGKILL a child of this process and reap it (one already reaped is left alone)."""
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
