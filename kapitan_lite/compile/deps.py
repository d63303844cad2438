"""What a target's output depends on, recorded while it compiles.

Every input a target reads is recorded as a dependency: the inventory files
that made its parameters, the templates and files its inputs read, the ref
files its tags used, and the other targets it read through
``inventory_global``. The incremental cache (``cache.py``) hashes these to
decide whether a target must be compiled again. An input type that cannot
say what it read marks the target *volatile*: it is always compiled.
"""

from __future__ import annotations

import glob
import hashlib
import os
import stat
from dataclasses import dataclass, field

# Dependency kinds: a file's bytes; a directory's whole tree (names and bytes);
# whether a path exists; the matches of a glob pattern; an environment
# variable's value ("*": the whole environment).
FILE, TREE, EXISTS, GLOB, ENV = "file", "tree", "exists", "glob", "env"


@dataclass
class Deps:
    """The dependencies of one target, recorded as it compiles."""

    inputs: set[tuple[str, str]] = field(default_factory=set)  # (kind, path)
    targets_read: set[str] = field(default_factory=set)  # via inventory_global; "*" = all
    volatile: str = ""  # why it can't be cached, if it can't

    def file(self, path: str) -> None:
        """Depend on a file's bytes (or on its absence)."""
        self.inputs.add((FILE, os.path.normpath(path)))

    def tree(self, path: str) -> None:
        """Depend on everything below a directory."""
        self.inputs.add((TREE, os.path.normpath(path)))

    def exists(self, path: str) -> None:
        """Depend on whether a path exists."""
        self.inputs.add((EXISTS, os.path.normpath(path)))

    def glob(self, pattern: str) -> None:
        """Depend on which paths a glob pattern matches."""
        self.inputs.add((GLOB, pattern))

    def env(self, name: str) -> None:
        """Depend on an environment variable (``"*"``: on all of them)."""
        self.inputs.add((ENV, name))

    def path(self, path: str) -> None:
        """Depend on a file or a directory, whichever ``path`` is."""
        if os.path.isdir(path):
            self.tree(path)
        else:
            self.file(path)

    def set_volatile(self, reason: str) -> None:
        """Never cache this target's output."""
        self.volatile = self.volatile or reason


class Hasher:
    """Content hashes of files, trees and globs, each computed once per run.

    ``known`` holds, from an earlier run, each file's hash with its inode,
    size, modification and change times. A file whose four are unchanged is
    not read again: writing a file, or setting its times back, moves its
    change time, which no program can set. Every file hashed is noted in
    :attr:`stats` for the next run, which keeps only those that had not
    changed for a while when they were read (see ``Cache.save``).
    """

    def __init__(self, known: dict[str, list] | None = None) -> None:
        self._memo: dict[tuple[str, str], str] = {}
        self.known = known or {}
        self.stats: dict[str, list] = {}  # path -> [ino, size, mtime_ns, ctime_ns, sha256]
        self._mtimes: dict[tuple[str, str], int] = {}

    def __call__(self, kind: str, path: str) -> str:
        """The hash of one dependency as it is now."""
        key = (kind, path)
        value = self._memo.get(key)
        if value is None:
            value = self._compute(kind, path)
            self._memo[key] = value
        return value

    def _compute(self, kind: str, path: str) -> str:
        if kind == FILE:
            try:
                st = os.stat(path)
                if stat.S_ISDIR(st.st_mode):
                    return "dir:" + self(TREE, path)
                seen = self.known.get(path)
                if seen is not None and seen[2] == st.st_mtime_ns and seen[3] == st.st_ctime_ns \
                        and seen[1] == st.st_size and seen[0] == st.st_ino:
                    self.stats[path] = seen
                    digest = seen[4]
                else:
                    with open(path, "rb") as fp:
                        digest = hashlib.sha256(fp.read()).hexdigest()
                    # Read after the stat: a write in between moves the times
                    # away from those noted, so the next run reads it again.
                    self.stats[path] = [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                                        digest]
                # The mode is part of it: jinja2 and copy keep source modes.
                return f"{digest}:{st.st_mode & 0o7777:o}"
            except FileNotFoundError:
                return "absent"
            except IsADirectoryError:
                return "dir:" + self(TREE, path)
        if kind == EXISTS:
            return "1" if os.path.lexists(path) else "0"
        if kind == GLOB:
            return hashlib.sha256("\0".join(sorted(glob.glob(path))).encode()).hexdigest()
        if kind == ENV:
            value = sorted(os.environ.items()) if path == "*" else os.environ.get(path)
            return hashlib.sha256(repr(value).encode()).hexdigest()
        if kind == TREE:
            h = hashlib.sha256()
            if not os.path.isdir(path):
                return "absent"
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for f in sorted(files):
                    full = os.path.join(root, f)
                    h.update(f"{os.path.relpath(full, path)}\0{self(FILE, full)}\0".encode())
                for d in dirs:
                    h.update(f"{os.path.relpath(os.path.join(root, d), path)}/\0".encode())
            return h.hexdigest()
        raise ValueError(kind)

    def mtime_ns(self, kind: str, path: str) -> int:
        """The newest modification time among a dependency's files (0 if none).

        Read once per run, when the first target that depends on it is
        recorded, which is after every compile of the run.
        """
        key = (kind, path)
        got = self._mtimes.get(key)
        if got is None:
            got = self._mtimes[key] = self._newest_mtime(kind, path)
        return got

    def _newest_mtime(self, kind: str, path: str) -> int:
        if kind in (FILE, EXISTS):
            try:
                return os.lstat(path).st_mtime_ns
            except OSError:
                return 0
        if kind == TREE:
            newest = 0
            for root, _dirs, files in os.walk(path):
                newest = max(newest, os.lstat(root).st_mtime_ns)
                for f in files:
                    newest = max(newest, os.lstat(os.path.join(root, f)).st_mtime_ns)
            return newest
        return 0  # globs: the match list is hashed, not timed
