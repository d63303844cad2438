"""The quick outputs check, shared with a forked helper on the CPU the run leaves idle.

A run at 1000 targets asks whether each target's files in ``compiled/``
are as it wrote them: some 20,000 ``lstat`` calls (``cache.stats_match``).
Until the workers fork, the run works on one CPU only: it loads the cache,
hashes the inventory's files, builds the engine and imports the input
types. The helper forks first, reads the targets' quick records from the
cache's state file (``cache.read_quick``, a lighter read than the run's)
and checks them meanwhile, from the last target back, noting each answer
in a page of memory it shares with the run. When the run comes to the
check, it takes the targets from the first on, until it meets the helper:
after a class edit the helper has done them all by then, and in a run with
nothing to compile the two share what is left.

The helper's answers are used only when it read the very state file the
run loaded (the same stamp: the cache replaces its files, never rewrites
them) and when ``compiled/`` itself is as it was when the helper forked:
another run's commit swaps it, which gives it another inode. Otherwise the
run checks every target itself. A helper that failed or was killed has
answered for fewer targets, never wrongly: each answer is one byte, noted
once its target is checked.

The helper dies with the run (``PR_SET_PDEATHSIG``), ignores Ctrl-C (the
run kills it) and writes nothing but its answers.
"""

from __future__ import annotations

import marshal
import mmap
import os
from collections.abc import Callable

from ..lifetime import fork_child, kill_child, preload
from .cache import read_quick, stats_match

# Below this many targets the check costs less than forking for it.
_AT_LEAST = 64
# One byte per target: not yet checked, intact, to look at closer, taken by the run.
_TODO, _INTACT, _CLOSER, _TAKEN = 0, 1, 2, 3


def _root_stamp(compiled_dir: str) -> tuple[int, int] | None:
    try:
        st = os.stat(compiled_dir)
    except OSError:
        return None
    return st.st_ino, st.st_ctime_ns


def _help(names: list[str], output_path: str, fingerprint: str, compiled_dir: str,
          mem: mmap.mmap, stamp_fd: int) -> None:
    """The helper's work: say which state file it read, then check from the last target back."""
    stamp, records = read_quick(output_path, fingerprint)
    data = marshal.dumps(stamp)
    while data:
        data = data[os.write(stamp_fd, data):]
    os.close(stamp_fd)
    for i in range(len(names) - 1, -1, -1):
        if mem[i] != _TODO:  # the run took it: it has the others before it too
            return
        r = records.get(names[i])
        mem[i] = _INTACT if r and stats_match(r[1], r[0], compiled_dir) else _CLOSER


class Precheck:
    """A helper checking the quick records of ``names``; :meth:`intact` gathers the answers."""

    def __init__(self, pid: int, fd: int, mem: mmap.mmap, names: list[str],
                 root: tuple[int, int], compiled_dir: str):
        self._pid, self._fd, self._mem, self._names = pid, fd, mem, names
        self._root, self._compiled_dir = root, compiled_dir

    @classmethod
    def start(cls, names: list[str], output_path: str, fingerprint: str, compiled_dir: str,
              cpus: int) -> Precheck | None:
        """Fork a helper checking the quick records of ``names``; None if not worth it.

        ``output_path`` and ``fingerprint``: where the cache is and the run's
        settings, as given to :class:`cache.Cache`; ``cpus``: how many
        processes the run may use (one: no helper).
        """
        root = _root_stamp(compiled_dir)
        if cpus < 2 or len(names) < _AT_LEAST or root is None:
            return None
        preload()
        mem = mmap.mmap(-1, len(names))  # shared with the helper, all _TODO
        read_fd, write_fd = os.pipe()
        try:
            pid = fork_child()
        except OSError:  # no process to spare: the run checks for itself
            os.close(read_fd)
            os.close(write_fd)
            mem.close()
            return None
        if pid == 0:  # the helper
            code = 1
            try:
                os.close(read_fd)
                _help(names, output_path, fingerprint, compiled_dir, mem, write_fd)
                code = 0
            finally:
                os._exit(code)
        os.close(write_fd)
        return cls(pid, read_fd, mem, names, root, compiled_dir)

    @property
    def pid(self) -> int:
        """The helper's process id (0 once reaped)."""
        return self._pid

    def fileno(self) -> int:
        """The pipe the helper's stamp comes on (-1 once read): forked workers close it."""
        return self._fd

    def intact(self, state_stamp: tuple[int, int, int] | None,
               check: Callable[[str], bool]) -> set[str]:
        """The names found intact: by the helper, and by ``check`` for those it has not done.

        ``state_stamp``: that of the state file the run loaded (``Cache.state_stamp``).
        """
        chunks = []
        while chunk := os.read(self._fd, 4096):  # the helper's stamp, or nothing if it died
            chunks.append(chunk)
        os.close(self._fd)
        self._fd = -1
        try:
            stamp = marshal.loads(b"".join(chunks))
        except (EOFError, ValueError, TypeError):
            stamp = None
        mem, found = self._mem, set()
        usable = stamp is not None and stamp == state_stamp
        for i, name in enumerate(self._names):
            if usable and mem[i] != _TODO:
                break  # the helper has done this one and all after it
            mem[i] = _TAKEN
            if check(name):
                found.add(name)
        else:
            i = len(self._names)
        answers = mem[i:]  # the helper is done with these (it went no further back than i)
        self.close()  # nor need it check any more
        if _root_stamp(self._compiled_dir) == self._root:
            found.update(n for n, ok in zip(self._names[i:], answers, strict=True)
                         if ok == _INTACT)
        else:  # compiled/ was replaced or changed: the helper's answers are of the old one
            found.update(n for n in self._names[i:] if check(n))
        return found

    def close(self) -> None:
        """Stop the helper if it still runs, and reap it; closing twice is harmless."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._mem.close()
        if self._pid:
            kill_child(self._pid)
            self._pid = 0
