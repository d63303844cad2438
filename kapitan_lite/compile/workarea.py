"""The staging area of one run, ``<output-path>/.kcompile-staging``, and its lock.

Between runs it holds the spare tree the next commit starts from
(``writer.py``), its ``.gitignore`` and the lock file; during a run, also
the targets' staged output. One run at a time owns an output path: it holds an ``flock`` on
``.kcompile-staging/.lock``, which records its pid (and the pid's start
time, so a reused pid is not taken for it). The kernel drops an ``flock``
when its last holder dies, so a killed run never blocks the next one: that
run takes the lock over with a one-line notice, finishes or discards what
the killed run left (see ``exchange.recover``) and starts clean. Workers
close their copy of the lock at once, so only the run's main process holds
it.
"""

from __future__ import annotations

import fcntl
import os
import stat

from ..errors import UserError
from .exchange import recover
from .spare import RECORD_NAME

STAGING_NAME = ".kcompile-staging"
LOCK_NAME = ".lock"
SPARE_NAME = "next"
_KEEP = {LOCK_NAME, ".gitignore", SPARE_NAME, RECORD_NAME}  # an older record (tree.json) goes


class RunRefused(UserError):
    """Another live run owns the output path: said in one line, with no summary."""

    summary = False


def _start_time(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks since boot), None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fp:
            data = fp.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after it.
    fields = data[data.rindex(b")") + 2:].split()
    return fields[19].decode() if len(fields) > 19 else None


def _alive(owner: str) -> bool:
    parts = owner.split()
    if len(parts) != 2 or not parts[0].isdigit():
        return False
    return _start_time(int(parts[0])) == parts[1]


def _read(fd: int) -> str:
    return os.pread(fd, 200, 0).decode("utf-8", "replace").strip()


def remove_tree(path: str) -> None:
    """Remove ``path`` and everything below it, read-only directories included."""
    import shutil

    def writable_and_retry(func, target, _exc):  # type: ignore[no-untyped-def]
        parent = os.path.dirname(target)
        try:
            os.chmod(parent, stat.S_IMODE(os.lstat(parent).st_mode) | stat.S_IRWXU)
            if func is os.rmdir or func is os.unlink:
                func(target)
            else:
                shutil.rmtree(target, ignore_errors=True)
        except OSError:
            pass  # left for the next run

    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, onerror=writable_and_retry)
    elif os.path.lexists(path):
        os.unlink(path)


class Staging:
    """The staging area of one run, locked against concurrent runs."""

    def __init__(self, output_path: str):
        self.output_path = output_path
        self.root = os.path.abspath(os.path.join(output_path, STAGING_NAME))
        self.compiled = os.path.join(self.root, "compiled")  # targets compile here
        # The new compiled/ tree is made here, from the spare the last commit left.
        self.next = os.path.join(self.root, SPARE_NAME)
        self.compiled_dir = os.path.join(output_path, "compiled")
        self.lock_fd: int | None = None
        self.notices: list[str] = []  # one line each, for the run to print

    def __enter__(self) -> Staging:
        try:
            os.makedirs(self.output_path, exist_ok=True)
            self.lock_fd = self._lock()
        except OSError as exc:
            raise UserError.of(f"cannot prepare the staging area: {exc.strerror or exc}",
                               path=self.root) from exc
        try:
            notice = recover(self.root, self.compiled_dir)
            if notice:
                self.notices.append(notice)
            # Left over by a killed run: start clean.
            for name in os.listdir(self.root):
                if name not in _KEEP:
                    remove_tree(os.path.join(self.root, name))
            # If a killed run leaves this behind, git still shows nothing.
            with open(os.path.join(self.root, ".gitignore"), "w") as fp:
                fp.write("*\n")
            os.makedirs(self.compiled)
        except OSError as exc:
            self.__exit__()
            raise UserError.of(f"cannot prepare the staging area: {exc.strerror or exc}",
                               path=exc.filename or self.root) from exc
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.lock_fd is None:
            return
        try:
            for name in os.listdir(self.root):
                if name not in _KEEP:
                    remove_tree(os.path.join(self.root, name))
            os.ftruncate(self.lock_fd, 0)  # released cleanly: no owner to take over from
        finally:
            os.close(self.lock_fd)
            self.lock_fd = None

    def _lock(self) -> int:
        path = os.path.join(self.root, LOCK_NAME)
        me = f"{os.getpid()} {_start_time(os.getpid())}"
        for _ in range(50):
            os.makedirs(self.root, exist_ok=True)
            try:
                fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
            except FileNotFoundError:  # a finishing run removed the directory
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _read(fd)
                os.close(fd)
                if _alive(owner) or not owner:
                    pid = owner.split()[0] if owner else "?"
                    raise RunRefused.of(f"another kcompile run (pid {pid}) is using this "
                                        "output path; try again when it has finished",
                                        path=self.root) from None
                # Its owner is dead, yet something it started holds the lock:
                # put a fresh lock file in its place.
                fd = self._replace_lock(path)
                self.notices.append(f"took over the lock of kcompile run {owner.split()[0]}, "
                                    "which is gone (a process it started still held it)")
            # The file may have been removed or replaced between open and flock.
            try:
                same = os.path.samestat(os.stat(path), os.fstat(fd))
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            owner = _read(fd)
            if owner and owner != me:
                self.notices.append(f"took over the lock of kcompile run {owner.split()[0]}, "
                                    "which is gone; removed what it left in "
                                    f"{os.path.relpath(self.root)}")
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{me}\n".encode(), 0)
            return fd
        raise RunRefused.of("could not take the lock: other kcompile runs keep replacing it",
                            path=path)

    @staticmethod
    def _replace_lock(path: str) -> int:
        tmp = f"{path}.{os.getpid()}"
        fd = os.open(tmp, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.replace(tmp, path)
        return fd


def recover_interrupted(output_path: str) -> list[str]:
    """Before any command: finish a commit a killed run left half done (journalled swap only).

    Returns one-line notices of what it did. When another run owns the
    output path, that run does it.
    """
    root = os.path.join(output_path, STAGING_NAME)
    if not os.path.exists(os.path.join(root, "commit.journal")):
        return []
    try:
        with Staging(output_path) as staging:
            return staging.notices
    except RunRefused:
        return []
