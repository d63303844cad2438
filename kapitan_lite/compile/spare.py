"""What ``compiled/`` and the spare tree looked like after the last commit, dir by dir.

After a commit, the spare (the previous tree, pruned) and ``compiled/``
share every file of each dir that neither the commit nor its pruning
touched. For each such dir the record keeps both trees' inode and ctime.
When both are unchanged at the next commit, the dir's entries are unchanged
in both trees (creating, removing or renaming an entry moves a dir's ctime,
and nothing can set a ctime back), so the dir need not be read in either:
a ``-t`` run at 1000 targets then reads only its own targets' dirs.

As git does with its index, a dir whose ctime is too close to the moment
of recording is not trusted (a change in the same clock tick would not
move it). The record is a hint: missing, stale or corrupt, it only costs a
full walk.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterable

RECORD_NAME = "tree.json"
_SLACK_NS = 50_000_000
_FORMAT = 1


class Record:
    """The dirs of the last committed tree; those both trees still hold unchanged are trusted."""

    def __init__(self, dirs: dict[str, list[int] | None]):
        self.dirs = dirs  # rel -> [mode, live ino, live ctime, spare ino, spare ctime] or None
        self._children: dict[str, list[str]] | None = None

    @classmethod
    def load(cls, staging_root: str) -> Record:
        """The record in the staging area, or an empty one."""
        try:
            with open(os.path.join(staging_root, RECORD_NAME), encoding="utf-8") as fp:
                data = json.load(fp)
            if data.get("format") == _FORMAT and isinstance(data.get("dirs"), dict):
                return cls(data["dirs"])
        except (OSError, ValueError, AttributeError):
            pass
        return cls({})

    def trusted(self, rel: str, live_root: str, spare_root: str) -> int | None:
        """The mode of dir ``rel`` if both trees hold it unchanged since the record, else None."""
        r = self.dirs.get(rel)
        if not r:
            return None
        try:
            a = os.stat(os.path.join(live_root, rel))
            b = os.stat(os.path.join(spare_root, rel))
        except OSError:
            return None
        if [a.st_ino, a.st_ctime_ns, b.st_ino, b.st_ctime_ns] != r[1:]:
            return None
        return r[0]

    def mode(self, rel: str, root: str) -> int:
        """The recorded mode of dir ``rel``, else its mode in tree ``root``."""
        r = self.dirs.get(rel)
        return r[0] if r else stat.S_IMODE(os.stat(os.path.join(root, rel)).st_mode)

    def children(self, rel: str) -> list[str]:
        """The subdirs dir ``rel`` had when recorded."""
        if self._children is None:
            self._children = {}
            for d in self.dirs:
                self._children.setdefault(os.path.dirname(d), []).append(d)
        return self._children.get(rel, [])


def save(staging_root: str, live_root: str, spare_root: str, dirs: Iterable[str],
         record: Record, trusted: set[str]) -> None:
    """Record ``dirs`` of both trees, right after a commit swapped them and pruned the spare.

    A dir that ``record`` vouched for was touched in neither tree: the swap
    only traded the trees' places, so its entry is the old one, halves swapped.
    """
    now = time.time_ns()
    out: dict[str, list[int] | None] = {}
    for rel in dirs:
        r = record.dirs.get(rel) if rel in trusted else None
        if r:
            out[rel] = [r[0], r[3], r[4], r[1], r[2]]
            continue
        out[rel] = None
        try:
            a = os.stat(os.path.join(live_root, rel))
            b = os.stat(os.path.join(spare_root, rel))
        except OSError:
            continue
        if max(a.st_ctime_ns, b.st_ctime_ns) < now - _SLACK_NS:
            out[rel] = [stat.S_IMODE(a.st_mode), a.st_ino, a.st_ctime_ns, b.st_ino, b.st_ctime_ns]
    tmp = os.path.join(staging_root, RECORD_NAME + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fp:
        fp.write(json.dumps({"format": _FORMAT, "dirs": out}, separators=(",", ":")))
    os.replace(tmp, os.path.join(staging_root, RECORD_NAME))
