"""What ``compiled/`` and the spare tree looked like after the last commit, dir by dir.

After a commit, the spare (the previous tree, pruned) and ``compiled/``
share every file of each dir that neither the commit nor its pruning
touched. For each such dir the record keeps both trees' inode and ctime.
When both are unchanged at the next commit, the dir's entries are unchanged
in both trees (creating, removing or renaming an entry moves a dir's ctime,
and nothing can set a ctime back), so the dir need not be read in either:
a ``-t`` run at 1000 targets then reads only its own targets' dirs.

Only dirs the commit itself read as equal in both trees, and did not
change, are recorded, with the stamps it read before changing anything;
as git does with its index, a dir whose ctime is too close to the commit
is not (a change in the same clock tick would not move it). The record is a hint: missing, stale or corrupt, it only costs a
full walk.
"""

from __future__ import annotations

import os
import stat
import time

from . import cachefile

# Marshalled as the cache's files are: at 1000 targets the record holds some
# 6,000 dirs, which JSON took 7 ms to read and 7 ms to write, marshal 2.5 and 1.4.
RECORD_NAME = "tree.bin"
_SLACK_NS = 50_000_000
_FORMAT = 3
Stamp = tuple[int, int, int]  # a dir's inode, mtime and ctime (ns); the record keeps inode and ctime


class Record:
    """The dirs of the last committed tree; those both trees still hold unchanged are trusted."""

    def __init__(self, dirs: dict[str, list[int] | None]):
        self.dirs = dirs  # rel -> [mode, live ino, live ctime, spare ino, spare ctime] or None
        self._children: dict[str, list[str]] | None = None

    @classmethod
    def load(cls, staging_root: str) -> Record:
        """The record in the staging area, or an empty one."""
        try:
            data = cachefile.read(os.path.join(staging_root, RECORD_NAME))
            if data.get("format") == _FORMAT and isinstance(data.get("dirs"), dict):
                return cls(data["dirs"])
        except (OSError, ValueError, AttributeError):
            pass
        return cls({})

    def trusted(self, rel: str, live_root: str, spare_root: str, live: Stamp | None = None
                ) -> tuple[int | None, Stamp | None, Stamp | None]:
        """Dir ``rel``: its mode if the record vouches for it, and its stamp in each tree.

        ``live``: its stamp in the live tree as this run found it intact, if it did.
        """
        a = live or _stamp(f"{live_root}/{rel}")
        b = _stamp(f"{spare_root}/{rel}")
        r = self.dirs.get(rel)
        if not r or a is None or b is None or [a[0], a[2], b[0], b[2]] != r[1:]:
            return None, a, b
        return r[0], a, b

    def mode(self, rel: str, root: str) -> int:
        """The recorded mode of dir ``rel``, else its mode in tree ``root``."""
        r = self.dirs.get(rel)
        return r[0] if r else stat.S_IMODE(os.stat(os.path.join(root, rel)).st_mode)

    def children(self, rel: str) -> list[str]:
        """The subdirs dir ``rel`` had when recorded."""
        if self._children is None:
            self._children = {}
            for d in self.dirs:
                self._children.setdefault(d.rpartition("/")[0], []).append(d)
        return self._children.get(rel, [])


def _stamp(path: str) -> Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_ctime_ns


def _listing(path: str) -> dict[str, int | None]:
    """A dir's names, each with its inode if a file (subdirs of two trees differ in theirs)."""
    with os.scandir(path) as it:
        return {e.name: None if e.is_dir(follow_symlinks=False) else e.inode() for e in it}


def save_paired(staging_root: str, live_root: str, spare_root: str, dirs: dict[str, int]) -> None:
    """Record the dirs (rel -> mode) that two trees just made hold alike, read in both.

    A dir is vouched for when it has the same mode and lists the same names,
    its files the very same ones (same inode), in both trees. Each is stamped
    before it is read, so a change while it is read moves its stamp; and, as
    in :func:`save`, not when its stamp is too close to now.
    """
    since_ns = time.time_ns()
    out: dict[str, list[int] | None] = {}
    for rel, mode in dirs.items():
        out[rel] = None
        live, spare = os.path.join(live_root, rel), os.path.join(spare_root, rel)
        try:
            a, b = os.stat(live), os.stat(spare)
            if (max(a.st_ctime_ns, b.st_ctime_ns) < since_ns - _SLACK_NS
                    and stat.S_IMODE(a.st_mode) == mode == stat.S_IMODE(b.st_mode)
                    and _listing(live) == _listing(spare)):
                out[rel] = [mode, a.st_ino, a.st_ctime_ns, b.st_ino, b.st_ctime_ns]
        except OSError:
            pass
    _write(staging_root, out)


def _write(staging_root: str, out: dict[str, list[int] | None]) -> None:
    cachefile.write(os.path.join(staging_root, RECORD_NAME),
                    cachefile.encode({"format": _FORMAT, "dirs": out}))


def save(staging_root: str, dirs: dict[str, int], record: Record, trusted: set[str],
         live: dict[str, Stamp], spare: dict[str, Stamp], changed: set[str],
         since_ns: int) -> None:
    """Record the dirs (rel -> mode) of the tree a commit just made current.

    ``live`` and ``spare`` are the stamps each tree's dirs had when the
    commit read them, before it changed anything: after the swap the spare
    is current and the old tree the spare. A dir is vouched for only when
    the commit found it the same in both trees and changed it in neither
    (``changed``), and its stamps are older than the commit by a margin. A
    dir the record vouched for already keeps its entry, halves swapped.
    """
    out: dict[str, list[int] | None] = {}
    for rel, mode in dirs.items():
        r = record.dirs.get(rel)
        out[rel] = None
        if rel in changed:
            continue
        if rel in trusted and r:
            out[rel] = [r[0], r[3], r[4], r[1], r[2]]
            continue
        a, b = live.get(rel), spare.get(rel)
        if a and b and max(a[2], b[2]) < since_ns - _SLACK_NS:
            out[rel] = [mode, b[0], b[2], a[0], a[2]]
    _write(staging_root, out)
