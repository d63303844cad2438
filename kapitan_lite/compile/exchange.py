"""Make a complete new tree current in one atomic step, durably.

On Linux, ``renameat2(RENAME_EXCHANGE)`` swaps two directories in one
step: at every moment the path names either the old tree or the new one,
whatever kills the process. Where the file system lacks it (``EINVAL``,
``ENOSYS``, ``EOPNOTSUPP``), the swap is two renames under a journal:

1. write ``.kcompile-staging/commit.journal`` (and fsync it);
2. rename ``compiled`` to ``.kcompile-staging/old``;
3. rename the new tree to ``compiled``;
4. remove the journal.

A process killed between 2 and 3 leaves no ``compiled/``;
:func:`recover`, which every kcompile command runs first, finishes the
swap from the journal. Before the swap the new tree is flushed to disk
(``syncfs``), and after it the directories that changed are fsynced, so a
power cut also leaves the old tree or the new one.

``KCOMPILE_TEST_NO_EXCHANGE=1`` forces the journalled swap and
``KCOMPILE_TEST_COMMIT_PAUSE=<seconds>`` pauses at each step of a commit:
the fault tests use them to stop a run at every step.
"""

from __future__ import annotations

import errno
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ..libc import libc as load_libc

JOURNAL_NAME = "commit.journal"
OLD_NAME = "old"
RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_SYS_RENAMEAT2 = {"x86_64": 316, "aarch64": 276, "armv7l": 382, "ppc64le": 357, "s390x": 347,
                  "riscv64": 276, "i686": 353}
_NOT_SUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTTY}

# The compiled/ dirs this process has replaced: what an interrupted run may say.
_replaced: set[str] = set()


def replaced_any() -> bool:
    """Whether this process has replaced a ``compiled/`` tree (so it is not unchanged)."""
    return bool(_replaced)


def pause(step: str) -> None:
    """The test hook: wait ``KCOMPILE_TEST_COMMIT_PAUSE`` seconds at a commit step."""
    seconds = os.environ.get("KCOMPILE_TEST_COMMIT_PAUSE")
    if seconds:
        time.sleep(float(seconds))


def _renameat2(src: str, dst: str, flags: int) -> None:
    import ctypes

    libc = load_libc()
    fn = getattr(libc, "renameat2", None)
    if fn is not None:
        fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        res = fn(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags)
    else:
        import platform  # only here: C libraries have had renameat2 for years (glibc 2.28)

        nr = _SYS_RENAMEAT2.get(platform.machine())
        if nr is None:
            raise OSError(errno.ENOSYS, "renameat2 is not available", src)
        res = libc.syscall(ctypes.c_long(nr), ctypes.c_int(_AT_FDCWD), os.fsencode(src),
                           ctypes.c_int(_AT_FDCWD), os.fsencode(dst), ctypes.c_uint(flags))
    if res != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), src, None, dst)


def fsync_dir(path: str) -> None:
    """Persist the entries of directory ``path``."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def flush_file_system(path: str) -> None:
    """Write everything dirty on ``path``'s file system to disk (``syncfs``, else ``sync``)."""
    libc = load_libc()
    fn = getattr(libc, "syncfs", None)
    if fn is None:
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if fn(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


@contextmanager
def signals_held() -> Iterator[list[int]]:
    """SIGINT and SIGTERM noted, not acted on, inside the block; the caller decides after."""
    if threading.current_thread() is not threading.main_thread():
        yield []
        return
    noted: list[int] = []
    previous = {sig: signal.signal(sig, lambda s, _f: noted.append(s))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield noted
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def swap(new: str, current: str, staging_root: str) -> None:
    """Make the complete tree ``new`` be ``current``; the previous tree ends up at ``new``.

    With no ``current`` yet, ``new`` is simply renamed. Raises ``OSError``
    when the swap can't be made; ``current`` is then as it was.
    """
    parent = os.path.dirname(os.path.abspath(current))
    if not os.path.lexists(current):
        os.rename(new, current)
        _replaced.add(os.path.abspath(current))
        fsync_dir(parent)
        return
    if not os.environ.get("KCOMPILE_TEST_NO_EXCHANGE"):
        try:
            _renameat2(new, current, RENAME_EXCHANGE)
        except OSError as exc:
            if exc.errno not in _NOT_SUPPORTED:
                raise
        else:
            _replaced.add(os.path.abspath(current))
            fsync_dir(parent)
            fsync_dir(os.path.dirname(os.path.abspath(new)))
            return
    _journalled_swap(new, current, staging_root)


def _journalled_swap(new: str, current: str, staging_root: str) -> None:
    journal = os.path.join(staging_root, JOURNAL_NAME)
    old = os.path.join(staging_root, OLD_NAME)
    tmp = journal + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fp:
        fp.write(f"kcompile is replacing {current} with {new}; "
                 "the next kcompile command finishes it\n")
        fp.flush()
        os.fsync(fp.fileno())
    os.replace(tmp, journal)
    fsync_dir(staging_root)
    os.rename(current, old)
    _replaced.add(os.path.abspath(current))
    pause("between the renames")
    os.rename(new, current)
    fsync_dir(os.path.dirname(os.path.abspath(current)))
    os.rename(old, new)
    os.unlink(journal)
    fsync_dir(staging_root)


def recover(staging_root: str, current: str) -> str | None:
    """Finish a journalled swap a killed run left half done; a one-line notice if it did.

    The caller holds the staging lock. A journal with the new tree still in
    place and ``current`` missing means the run died between its two
    renames: the new tree, complete before the journal was written, is put
    in place. In every other state the swap either never started or
    finished, and only the journal is removed.
    """
    journal = os.path.join(staging_root, JOURNAL_NAME)
    if not os.path.exists(journal):
        return None
    new = os.path.join(staging_root, "next")
    old = os.path.join(staging_root, OLD_NAME)
    notice = None
    name = os.path.normpath(current)
    if not os.path.lexists(current):
        if os.path.isdir(new):
            os.rename(new, current)
            notice = f"finished the commit of {name}/ that a killed run left half done"
        elif os.path.isdir(old):  # not reached by _journalled_swap's order; undo to be safe
            os.rename(old, current)
            notice = f"undid the commit of {name}/ that a killed run left half done"
        fsync_dir(os.path.dirname(os.path.abspath(current)))
    os.unlink(journal)
    fsync_dir(staging_root)
    return notice
