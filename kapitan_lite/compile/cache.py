"""The incremental cache: skip targets whose inputs and output are unchanged.

For every compiled target the cache keeps what it depended on (``deps.py``)
and what it wrote. A target is skipped only when

- the cache was written by this version with the same options,
- every dependency hashes as it did (files by content and mode, trees by
  names and content, globs by their matches, other targets read through
  ``inventory_global`` by their own inventory inputs), and
- its files in ``compiled/`` are exactly those it wrote (by size, mtime and
  mode, or failing that by content), with nothing added.

Anything unexpected (a missing, corrupt or foreign cache file, a dependency
that changed while the run was reading it) makes the target compile again:
the cache can cost a compile but never serve stale output. The cache files
are written atomically, and their directory ignores itself in git.

Two files (``cachefile.py`` says how they are stored): ``state.bin`` holds
what a run with nothing changed reads (the dependencies, and per target its
keys and one sum of its outputs' stats); ``details.bin`` what a target
wrote, file by file, read only when a target's sum differs. The state
names the details file it goes with by its hash, so a pair that does not
match is not trusted. A run that
recompiles a few targets keeps their details in the state itself and
leaves the details file as it is: saving then costs what changed, not the
whole fleet's records; past a share of the fleet, the details file is
written afresh.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from typing import Any

from . import cachefile
from .deps import Deps, Hasher

CACHE_NAME = ".kcompile-cache"
STATE_FILE = "state.bin"
# What each target wrote (files with their hashes, dirs), read only when its
# quick check fails, or when the cache is saved and it is written afresh.
DETAILS_FILE = "details.bin"
# Format 5 and before kept them as JSON: the first save of format 6 (one that
# writes the details afresh, as a cache without a state of its format does) removes those.
_OLD_FILES = ("state.json", "details.json")
# 3: each dependency, with the hash it had when recorded, is kept once in a
# table that targets name by index.
# 4: a target's written files and stamps live in DETAILS_FILE; STATE_FILE keeps
# their names and one checksum of their stats (``quick``).
# 5: the dir stamps move to STATE_FILE's ``quick``, which keeps the checksum of the
# files' stats apart, so that a commit can restamp a target's dirs without its
# details; the details of targets recorded since DETAILS_FILE was written live
# in STATE_FILE (``more_details``).
# 6: both files are marshalled (cachefile.py), no longer JSON.
FORMAT = 6
# Targets whose details STATE_FILE may carry before DETAILS_FILE is written afresh.
_MORE_AT_MOST = 64
# A dependency modified after the run started may have changed while it was
# being read: such a target is not cached. File times come from the kernel's
# coarse clock, a few ms behind; on filesystems that keep whole seconds only,
# allow two.
MTIME_SLACK_NS = 50_000_000
COARSE_MTIME_SLACK_NS = 2_000_000_000


def _changed_during_run(mtime_ns: int, run_started_ns: int) -> bool:
    coarse = mtime_ns % 1_000_000_000 == 0
    return mtime_ns >= run_started_ns - (COARSE_MTIME_SLACK_NS if coarse else MTIME_SLACK_NS)


@dataclass
class Entry:
    """What the cache knows of one target."""

    key: str
    inventory_key: str
    target_dir: str
    inventory_deps: list[tuple[str, str]]  # (kind, path), sorted
    input_deps: list[tuple[str, str]]
    targets_read: list[str]
    files: dict[str, list[Any]] = field(default_factory=dict)  # rel -> [sha256, mode, size, mtime_ns]
    dirs: list[str] = field(default_factory=list)
    # Its dirs ("" and dirs) as last seen intact, and its files (the names, one
    # checksum of the (size, mtime, mode) each was written with): a dir whose
    # inode, mtime and ctime are unchanged lists the same names, so only its
    # files need a stat. None when its dirs are not stamped.
    quick: Quick | None = None
    count: int = 0  # how many files it wrote
    detailed: bool = True  # files and dirs are known (loaded: once the details are read)
    in_base: bool = False  # its details are those of DETAILS_FILE: not saved again


@dataclass(frozen=True)
class Quick:
    """A target's dirs as stamped when found intact, and its files' names and checksum."""

    dir_rels: list[str]  # "" first
    stamps: tuple[int, ...]  # inode, mtime_ns, ctime_ns of each dir in turn
    file_rels: list[str]
    files_sum: int  # of the (size, mtime_ns, mode) each file was written with

    def stamp_map(self) -> dict[str, tuple[int, int, int]]:
        """Each stamped dir with its inode, mtime and ctime."""
        it = iter(self.stamps)
        return {rel: (next(it), next(it), next(it)) for rel in self.dir_rels}


def _files_sum(entry: Entry) -> int:
    return _stat_sum(tuple((size, mtime, mode) for _, mode, size, mtime in entry.files.values()))


def _stamped(entry: Entry, stamps: dict[str, list[int]] | dict[str, tuple[int, int, int]]
             ) -> Quick | None:
    """The quick record of a detailed entry whose dirs have these stamps (none: None)."""
    if not stamps:
        return None
    return Quick(list(stamps), tuple(x for st in stamps.values() for x in st),
                 list(entry.files), _files_sum(entry))


def _carried(q: Quick, target_dir: str, read: dict[str, tuple[int, int, int]],
             new: dict[str, tuple[int, int, int]], visible_ns: int) -> Quick | None:
    """A target's quick record in the new tree (see :meth:`Cache.restamp`), or None."""
    paths = [f"{target_dir}/{rel}" if rel else target_dir for rel in q.dir_rels]
    flat: list[int] = []
    for p in paths:
        st = read.get(p)
        if st is None:
            return None
        flat += st
    if tuple(flat) != q.stamps:
        return None  # not read as found intact: the next run reads its dirs
    flat = []
    for p in paths:
        st = new.get(p)
        if st is None or _changed_during_run(max(st[1], st[2]), visible_ns):
            return None
        flat += st
    return Quick(q.dir_rels, tuple(flat), q.file_rels, q.files_sum)


def _quick(entry: Entry) -> list[Any] | None:
    """The quick record as saved: see :meth:`Cache._quick_intact`."""
    q = entry.quick
    if q is None:
        return None
    return [q.dir_rels, "\n".join(q.file_rels), q.files_sum, list(q.stamps)]


def _parse_quick(quick: Any, count: Any) -> Quick | None:
    """A quick record as loaded; None (check the target file by file) if it is not one."""
    try:
        dir_rels, joined, files_sum, stamps = quick
        # Checked by type in C (map): 1000 targets' 20,000 stamps, converted one
        # by one, cost 3 ms of every run.
        if not (type(joined) is str and type(files_sum) is int
                and set(map(type, dir_rels)) <= {str} and set(map(type, stamps)) <= {int}):
            return None
        q = Quick(list(dir_rels), tuple(stamps), joined.split("\n") if count else [], files_sum)
    except (TypeError, ValueError):
        return None
    return q if len(q.stamps) == 3 * len(q.dir_rels) else None


def _fill(entry: Entry, d: dict[str, Any], in_base: bool) -> None:
    """Give a loaded entry its details (``d``: files and dirs as saved)."""
    entry.files = {str(rel): [str(sha), int(mode), int(size), int(mtime)]
                   for rel, (sha, mode, size, mtime) in d["files"].items()}
    entry.dirs = [str(x) for x in d["dirs"]]
    entry.detailed, entry.in_base = True, in_base


def _stat_sum(stats: tuple) -> int:
    # Python's hash of a tuple of ints is the same in every process (only str
    # and bytes hashes are salted); 64 bits, so a changed stat goes unseen
    # with odds of one in 2**61, and only if it lands on the very same sum.
    return hash(stats)


def stats_match(quick: Quick, target_dir: str, compiled_dir: str) -> bool:
    """Whether a target's dirs and files in ``compiled/`` have the stats of its quick record."""
    base = os.path.join(compiled_dir, target_dir) + os.sep  # + rel: a join per file
    lstat = os.lstat
    try:
        dirs = tuple(x for st in [lstat(base + rel) for rel in quick.dir_rels]
                     for x in (st.st_ino, st.st_mtime_ns, st.st_ctime_ns))
        if dirs != quick.stamps:
            return False
        files = tuple((st.st_size, st.st_mtime_ns, st.st_mode & 0o7777)
                      for st in [lstat(base + rel) for rel in quick.file_rels])
    except OSError:
        return False
    return _stat_sum(files) == quick.files_sum


def _read_state(cache_dir: str, fingerprint: str) -> tuple[dict, tuple[int, int, int]]:
    """The state file of ``cache_dir`` and its stamp; :class:`ValueError` if it is of
    another format or other settings, :class:`OSError` if it can't be read."""
    state, stamp = cachefile.read_stamped(os.path.join(cache_dir, STATE_FILE))
    if state.get("format") != FORMAT or state.get("fingerprint") != fingerprint:
        raise ValueError("a state file of another format or other settings")
    return state, stamp


def read_quick(output_path: str, fingerprint: str
               ) -> tuple[tuple[int, int, int] | None, dict[str, tuple[str, Quick]]]:
    """Each saved target's dir and quick record, and the stamp of the state file they are
    from (:attr:`Cache.state_stamp`): what :func:`stats_match` needs, read without the rest.

    A state file that is missing, corrupt or of other settings holds none.
    """
    try:
        state, stamp = _read_state(os.path.join(output_path, CACHE_NAME), fingerprint)
        out = {}
        for name, e in state["targets"].items():
            quick = _parse_quick(e["quick"], e["count"])
            if quick is not None and type(e["target_dir"]) is str:
                out[name] = (e["target_dir"], quick)
    except (OSError, ValueError, TypeError, KeyError, AttributeError, IndexError):
        return None, {}
    return stamp, out


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class Cache:
    """The cache of one output path, for one fingerprint (version and options)."""

    def __init__(self, output_path: str, fingerprint: str, enabled: bool = True):
        self.dir = os.path.join(output_path, CACHE_NAME)
        self.fingerprint = fingerprint
        self.enabled = enabled
        self.entries: dict[str, Entry] = {}
        self.hasher = Hasher()  # given the known file stats by _load
        self._inventory_keys: dict[str, str] = {}  # memo for this run
        self._dep_lines: dict[tuple[str, str], bytes] = {}  # memo for this run
        # Loaded from the file: (kind, path, hash when recorded), and for each
        # target not recorded since, the indexes of its inventory and input deps.
        self._table: list[tuple[str, str, str]] = []
        self._loaded: dict[str, list[int]] = {}
        self._valid: list[bool | None] = []  # table index -> still hashes so (this run)
        self._bad: set[int] | None = None  # once every index is checked: those that fail
        self._dirty = False
        self.state_stamp: tuple[int, int, int] | None = None  # of the state file loaded
        self._details_digest: str | None = None  # of the details file, until it is read
        self._base_digest: str | None = None  # of the details file the state names
        if enabled:
            self._load()

    # -- reading -------------------------------------------------------------
    def _load(self) -> None:
        # Loading makes some 200,000 objects, none of them in a cycle: the
        # collector's passes over them would only cost time. The collector is
        # off until they are all made (a pass over them as they are made
        # would cost as much), and the run then freezes them (run._frozen_heap).
        enabled = gc.isenabled()
        gc.disable()
        try:
            self._load_state()
        finally:
            if enabled:
                gc.enable()

    def _load_state(self) -> None:
        try:
            state, stamp = _read_state(self.dir, self.fingerprint)
            table = [(str(kind), str(path), str(digest)) for kind, path, digest in state["deps"]]
            pairs = [(kind, path) for kind, path, _ in table]
            entries, loaded = {}, {}
            for name, e in state["targets"].items():
                inv, inp = e["inventory_deps"], e["input_deps"]
                loaded[name] = [*inv, *inp]
                entries[name] = Entry(
                    key=e["key"], inventory_key=e["inventory_key"], target_dir=e["target_dir"],
                    inventory_deps=list(map(pairs.__getitem__, inv)),
                    input_deps=list(map(pairs.__getitem__, inp)),
                    targets_read=e["targets_read"], quick=_parse_quick(e["quick"], e["count"]),
                    count=int(e["count"]),
                    detailed=False)
            for name, d in state["more_details"].items():
                if name in entries:  # recorded since the details file was written
                    _fill(entries[name], d, in_base=False)
            details = state["details"]
            details = None if details is None else str(details)
            known = state["files"]
            if not isinstance(known, dict) or not all(
                    isinstance(v, list) and len(v) == 5 for v in known.values()):
                raise ValueError("bad file table")
        except (OSError, ValueError, TypeError, KeyError, AttributeError, IndexError):
            return  # missing or corrupt: start empty, never trust it
        self.entries = entries
        self.state_stamp = stamp
        self._details_digest = self._base_digest = details
        self.hasher = Hasher(known)
        self._table, self._loaded, self._valid = table, loaded, [None] * len(table)

    def _read_details(self) -> None:
        """Fill in what each loaded target wrote, from the details file its state names.

        A details file that is missing, corrupt or not the one the state was
        saved with leaves the entries without details: they compile again.
        """
        digest, self._details_digest = self._details_digest, None
        if digest is None:
            return
        try:
            with open(os.path.join(self.dir, DETAILS_FILE), "rb") as fp:
                raw = fp.read()
            if hashlib.sha256(raw).hexdigest() != digest:
                return
            gc.disable()
            try:
                targets = cachefile.decode(raw)
            finally:
                gc.enable()
            for name, d in targets.items():
                entry = self.entries.get(name)
                if entry is not None and not entry.detailed:
                    _fill(entry, d, in_base=True)
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return

    def _detailed(self, entry: Entry) -> bool:
        """Whether the entry's files, dirs and stamps are known (reading them if need be)."""
        if not entry.detailed:
            self._read_details()
        return entry.detailed

    def _quick_intact(self, entry: Entry, compiled_dir: str) -> bool:
        """Whether the target's dirs and files have the stats they had when last found
        intact (False: look closer). A dir whose inode, mtime and ctime are unchanged
        lists the same names; a file whose size, mtime and mode are, holds the same bytes.
        """
        return entry.quick is not None and stats_match(entry.quick, entry.target_dir, compiled_dir)

    def file_count(self, name: str) -> int:
        """How many files a target in the cache wrote."""
        entry = self.entries[name]
        return len(entry.files) if entry.detailed else entry.count

    def _unchanged(self, name: str) -> bool:
        """Whether every dependency of a loaded target hashes as it did when recorded."""
        if self._bad is not None:
            ids = self._loaded.get(name)
            return ids is not None and self._bad.isdisjoint(ids)
        valid = self._valid
        for i in self._loaded.get(name, ()):
            ok = valid[i]
            if ok is None:
                kind, path, digest = self._table[i]
                ok = valid[i] = self.hasher(kind, path) == digest
            if not ok:
                return False
        return name in self._loaded

    def _dep_hashes(self, name: str, entry: Entry) -> list[tuple[str, str, str]]:
        """A target's deps with the hashes its key was made from, as the table keeps them."""
        loaded = self._loaded.get(name)
        if loaded is not None:
            return [self._table[i] for i in loaded]
        return [(kind, path, self.hasher(kind, path))
                for kind, path in (*entry.inventory_deps, *entry.input_deps)]

    def _hash_deps(self, h: Any, deps: list[tuple[str, str]]) -> None:
        """Feed each dependency and its current hash into ``h`` (deps are stored sorted)."""
        # Targets share most of their dependencies: each one's line is built once.
        lines = self._dep_lines
        out = []
        for kind, path in deps:
            line = lines.get((kind, path))
            if line is None:
                line = lines[(kind, path)] = \
                    f"{kind}\0{path}\0{self.hasher(kind, path)}\n".encode()
            out.append(line)
        h.update(b"".join(out))

    def inventory_key(self, name: str) -> str | None:
        """A target's inventory key from its recorded inventory inputs, as they are now."""
        key = self._inventory_keys.get(name)
        if key is None:
            entry = self.entries.get(name)
            if entry is None:
                return None
            h = hashlib.sha256(f"{name}\0".encode())
            self._hash_deps(h, entry.inventory_deps)
            key = self._inventory_keys[name] = h.hexdigest()
        return key

    def _key(self, name: str, target_dir: str, inventory_key: str,
             input_deps: list[tuple[str, str]], targets_read: list[str],
             all_names: list[str]) -> str | None:
        read_keys = []
        for other in sorted(targets_read):
            if other == "*":
                keys = [(n, self.inventory_key(n)) for n in all_names]
                if any(k is None for _, k in keys):
                    return None
                read_keys.append(["*", keys])
            else:
                k = self.inventory_key(other) if other in all_names else "absent"
                if k is None:
                    return None
                read_keys.append([other, k])
        h = hashlib.sha256(_digest([self.fingerprint, name, target_dir, inventory_key,
                                    read_keys]).encode())
        self._hash_deps(h, input_deps)
        return h.hexdigest()

    def fresh(self, names: list[str], target_dirs: dict[str, str], all_names: list[str],
              compiled_dir: str, run_started_ns: int | None = None) -> set[str]:
        """The targets among ``names`` that can be skipped.

        ``run_started_ns``: when given, the dirs of targets found intact are
        stamped (unless they changed during this run), for the next run.
        """
        candidates = self.inputs_unchanged(names, target_dirs, all_names)
        return self.outputs_intact(candidates, target_dirs, compiled_dir, run_started_ns)

    def inputs_unchanged(self, names: list[str], target_dirs: dict[str, str],
                         all_names: list[str]) -> list[str]:
        """The targets among ``names`` whose recorded inputs hash as they did (the first
        half of :meth:`fresh`: the others must compile, whatever ``compiled/`` holds)."""
        if not self.enabled or not self.entries:
            return []
        if len(names) >= len(self._loaded) and self._table:
            # Every target is checked: check each dependency once, up front, so that
            # a target is a set test, not a loop over its dependencies.
            hasher, valid = self.hasher, self._valid
            for i, (kind, path, digest) in enumerate(self._table):
                if valid[i] is None:
                    valid[i] = hasher(kind, path) == digest
            self._bad = {i for i, ok in enumerate(valid) if not ok}
        out = []
        for name in names:
            entry = self.entries.get(name)
            if entry is None or entry.target_dir != target_dirs[name]:
                continue
            if entry.targets_read or not self._unchanged(name):
                inv_key = self.inventory_key(name)
                if inv_key != entry.inventory_key:
                    continue
                key = self._key(name, entry.target_dir, inv_key, entry.input_deps,
                                entry.targets_read, all_names)
                if key != entry.key:
                    continue
            # else its keys are made of these hashes, its name and dir, and the
            # fingerprint, all as they were: no need to make them again.
            out.append(name)
        return out

    def outputs_intact(self, names: list[str], target_dirs: dict[str, str], compiled_dir: str,
                       run_started_ns: int | None = None, quick: set[str] | None = None
                       ) -> set[str]:
        """The targets among ``names`` (whose inputs are unchanged) whose files in
        ``compiled/`` are exactly what they wrote (the second half of :meth:`fresh`).

        ``quick``: the targets whose quick records this run found matching
        already (:meth:`quick_intact`, ``precheck.py``); the others are only
        looked at closer.
        """
        all_dirs = set(target_dirs.values())
        fresh = set()
        for name in names:
            entry = self.entries[name]
            found = name in quick if quick is not None else self._quick_intact(entry, compiled_dir)
            if found or (self._detailed(entry) and (
                    self._stamped_intact(entry, compiled_dir, run_started_ns) or self._scanned_intact(
                        entry, all_dirs, compiled_dir, run_started_ns))):
                fresh.add(name)
        return fresh

    def quick_intact(self, name: str, compiled_dir: str) -> bool:
        """Whether a loaded target's dirs and files in ``compiled/`` have the stats they had
        when last found intact (False: not loaded, or to be looked at closer)."""
        entry = self.entries.get(name)
        return entry is not None and self._quick_intact(entry, compiled_dir)

    def restamp(self, names: set[str], read: dict[str, tuple[int, int, int]],
                new: dict[str, tuple[int, int, int]], visible_ns: int) -> None:
        """Carry the stamps of targets found intact over to a new ``compiled/`` tree.

        ``read``: each dir of the old tree with the inode, mtime and ctime it had
        when the commit read it to build the new tree; ``new``: the new tree's
        dirs the commit left as it read them (``writer.Committed``). A target
        whose dirs the commit read as they were when last found intact lists
        the same names in the new tree, so its new dirs are stamped, without
        reading its details or its dirs again. Before ``visible_ns`` only this
        run could change them; a dir changed shortly before it is not stamped
        (a change just after could share its time), and the next run reads it.
        """
        for name in sorted(names):
            entry = self.entries.get(name)
            if entry is not None and entry.quick is not None:
                entry.quick = _carried(entry.quick, entry.target_dir, read, new, visible_ns)
                self._dirty = True

    def intact_stamps(self, names: set[str]) -> dict[str, tuple[int, int, int]]:
        """The dirs (under ``compiled/``) of these targets found intact, with their stamps then."""
        out = {}
        for name in names:
            entry = self.entries.get(name)
            if entry is None or entry.quick is None:
                continue
            t = entry.target_dir
            out.update((f"{t}/{rel}" if rel else t, st) for rel, st in entry.quick.stamp_map().items())
        return out

    def vouches(self, name: str, all_names: list[str]) -> bool:
        """Whether every input recorded for ``name`` (files relative to the working
        directory, the targets it read) hashes now as when it was recorded: then
        what it recorded is what compiling it here would read (``kcompile affected``).
        """
        entry = self.entries.get(name)
        if entry is None:
            return False
        inv_key = self.inventory_key(name)
        return inv_key == entry.inventory_key and entry.key == self._key(
            name, entry.target_dir, inv_key, entry.input_deps, entry.targets_read, all_names)
    def _stamped_intact(self, entry: Entry, compiled_dir: str, run_started_ns: int | None
                        ) -> bool:
        """Whether the target's dirs are as stamped and its files as written (False: look)."""
        if entry.quick is None or len(entry.quick.dir_rels) != len(entry.dirs) + 1:
            return False
        stamps = entry.quick.stamp_map()
        base = os.path.join(compiled_dir, entry.target_dir) + os.sep  # + rel: a join per file
        lstat = os.lstat
        try:
            for rel, (ino, mtime_ns, ctime_ns) in stamps.items():
                st = lstat(base + rel)
                if st.st_mtime_ns != mtime_ns or st.st_ctime_ns != ctime_ns or st.st_ino != ino:
                    return False
            # Each dir lists the names it listed when it was stamped, found intact:
            # only what the files hold can have changed.
            for rel, (_, mode, size, mtime_ns) in entry.files.items():
                st = lstat(base + rel)
                if (st.st_mtime_ns != mtime_ns or st.st_size != size) and (
                        st.st_mode & 0o7777 != mode or not stat.S_ISREG(st.st_mode)
                        or not self._same_bytes(entry, rel, base + rel, st.st_size,
                                                st.st_mtime_ns, run_started_ns)):
                    return False
                if st.st_mode & 0o7777 != mode:
                    return False
        except OSError:
            return False
        if _files_sum(entry) != entry.quick.files_sum:  # a file's new stat was noted
            entry.quick = _stamped(entry, stamps)
        return True

    def _scanned_intact(self, entry: Entry, all_dirs: set[str], compiled_dir: str,
                        run_started_ns: int | None) -> bool:
        """Whether the target's dir, read in full, holds what it wrote; stamps it if so."""
        mine = _scan_owned(compiled_dir, all_dirs, [entry.target_dir]).get(entry.target_dir, {})
        if not self._output_intact(entry, mine, compiled_dir, run_started_ns):
            return False
        if run_started_ns is not None:
            quick = _stamped(entry, _stamps(os.path.join(compiled_dir, entry.target_dir),
                                            entry.dirs, run_started_ns))
            if quick != entry.quick:
                entry.quick = quick
                self._dirty = True
        return True

    def _output_intact(self, entry: Entry, mine: dict[str, tuple[int, int, int] | None],
                       compiled_dir: str, run_started_ns: int | None) -> bool:
        """Whether the target's dir holds exactly what it wrote (``mine``: rel -> stat)."""
        if "" not in mine and (entry.files or entry.dirs):
            return False
        if set(mine) - {""} != set(entry.files) | set(entry.dirs):
            return False  # something missing, or something else there
        for rel, (_, mode, size, mtime) in entry.files.items():
            st = mine[rel]
            if st is None:
                return False
            if st != (size, mtime, mode):
                full = os.path.join(compiled_dir, entry.target_dir, rel)
                if st[2] != mode or not self._same_bytes(entry, rel, full, st[0], st[1],
                                                         run_started_ns):
                    return False
        return all(mine[d] is None for d in entry.dirs)

    def _same_bytes(self, entry: Entry, rel: str, path: str, size: int, mtime_ns: int,
                    run_started_ns: int | None) -> bool:
        """Whether a written file whose size or mtime moved holds the bytes it was written
        with (a checkout rewrites files). If so, its stat is noted, unless it changed
        during this run, so that the next run need not read it again."""
        written = entry.files[rel]
        try:
            with open(path, "rb") as fp:
                if hashlib.sha256(fp.read()).hexdigest() != written[0]:
                    return False
        except OSError:
            return False
        if run_started_ns is not None and not _changed_during_run(mtime_ns, run_started_ns):
            written[2], written[3] = size, mtime_ns
            entry.in_base = False  # its details are saved again
            self._dirty = True
        return True

    # -- writing -------------------------------------------------------------
    def make_dir(self, sub: str = "") -> str:
        """Make the cache dir (ignored by git), and ``sub`` in it; return that path.

        Compiled templates live here too, even with the cache disabled: they
        are checked against their source, as Python checks its ``.pyc``.
        """
        os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        ignore = os.path.join(self.dir, ".gitignore")
        if not os.path.exists(ignore):
            with open(ignore, "w") as fp:
                fp.write("# kcompile's incremental cache: never commit it\n*\n")
        return os.path.join(self.dir, sub)

    def record(self, name: str, target_dir: str, inventory_deps: set[tuple[str, str]],
               deps: Deps, files: dict[str, str], dirs: set[str], compiled_dir: str,
               all_names: list[str], run_started_ns: int) -> None:
        """Remember a target just compiled (``files``: rel -> sha256 of what was written)."""
        self._dirty = True
        if not self.enabled or deps.volatile:
            self.entries.pop(name, None)
            return
        inv = sorted(inventory_deps)
        inp = sorted(deps.inputs)
        for kind, path in [*inv, *inp]:
            if _changed_during_run(self.hasher.mtime_ns(kind, path), run_started_ns):
                self.entries.pop(name, None)  # may have changed while we read it
                return
        inv_entry = Entry(key="", inventory_key="", target_dir=target_dir, inventory_deps=inv,
                          input_deps=inp, targets_read=sorted(deps.targets_read))
        self.entries[name] = inv_entry
        self._loaded.pop(name, None)
        self._inventory_keys.pop(name, None)
        inv_key = self.inventory_key(name)
        key = self._key(name, target_dir, inv_key or "", inp, inv_entry.targets_read, all_names)
        if inv_key is None or key is None:
            self.entries.pop(name, None)
            return
        inv_entry.key, inv_entry.inventory_key = key, inv_key
        base = os.path.join(compiled_dir, target_dir)
        for rel, sha in files.items():
            st = os.lstat(os.path.join(base, rel))
            inv_entry.files[rel] = [sha, st.st_mode & 0o7777, st.st_size, st.st_mtime_ns]
        inv_entry.dirs = sorted(dirs)

    def forget(self, name: str) -> None:
        """Drop a target (it failed, or no longer exists)."""
        self._dirty |= self.entries.pop(name, None) is not None

    def save(self, keep: set[str], run_started_ns: int, everything: bool = True) -> None:
        """Write the cache atomically, keeping only the targets in ``keep``.

        ``everything``: this run checked every target (not just those of ``-t``).

        A file changed shortly before it was read may change again within the
        same tick of the file clock, unseen by its times: such files are not
        noted, so the next run reads them again rather than trust their stat.
        """
        if not self.enabled:
            return
        noted = {path: st for path, st in self.hasher.stats.items()
                 if not _changed_during_run(max(st[2], st[3]), run_started_ns)}
        # A run that checked every target read every source it knows of; a
        # partial one (-t) keeps what it did not look at for the next full run.
        files = dict(sorted((noted if everything else {**self.hasher.known, **noted}).items()))
        if not self._dirty and set(self.entries) <= keep and files == self.hasher.known:
            return  # nothing new to remember
        self.make_dir()
        kept = [(n, e) for n, e in sorted(self.entries.items()) if n in keep]
        more = [n for n, e in kept if e.detailed and not e.in_base]
        # The details file is written afresh when it would hold too little of what
        # is kept, or when it was read anyway; else it stays, and the state names it.
        afresh = (self._base_digest is None or len(more) > max(_MORE_AT_MOST, len(kept) // 8)
                  or all(e.detailed for _, e in kept))
        if afresh and not all(e.detailed for _, e in kept):
            self._read_details()
        table, ids_of = self._dep_table(fresh_table=afresh)
        targets, details = {}, {}
        for n, e in kept:
            if afresh and not e.detailed:
                continue  # its details are lost: it compiles again
            ids = ids_of(n, e)
            cut = len(e.inventory_deps)
            targets[n] = {"key": e.key, "inventory_key": e.inventory_key,
                          "target_dir": e.target_dir, "inventory_deps": ids[:cut],
                          "input_deps": ids[cut:], "targets_read": e.targets_read,
                          "count": len(e.files) if e.detailed else e.count, "quick": _quick(e)}
            if e.detailed and (afresh or not e.in_base):
                details[n] = {"files": e.files, "dirs": e.dirs}
        table = _drop_unused(table, targets)
        state = {"format": FORMAT, "fingerprint": self.fingerprint, "deps": table,
                 "targets": targets, "files": files}
        if afresh:
            raw = cachefile.encode(details)
            state.update(details=hashlib.sha256(raw).hexdigest(), more_details={})
            # The details first: a state file names the details it was saved with.
            cachefile.write(os.path.join(self.dir, DETAILS_FILE), raw)
            for old in _OLD_FILES:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self.dir, old))
        else:
            state.update(details=self._base_digest, more_details=details)
        cachefile.write(os.path.join(self.dir, STATE_FILE), cachefile.encode(state))

    def _dep_table(self, fresh_table: bool) -> tuple[list[tuple[str, str, str]], Any]:
        """The dependency table to save, and how to get a target's indexes into it.

        Unless ``fresh_table``, the loaded table is kept, targets not recorded
        since keep their indexes, and new dependencies are appended, so that
        saving costs what changed.
        """
        table = [] if fresh_table else list(self._table)
        index = {d: i for i, d in enumerate(table)}

        def ids_of(n: str, e: Entry) -> list[int]:
            loaded = None if fresh_table else self._loaded.get(n)
            if loaded is not None:
                return loaded
            out = []
            for d in self._dep_hashes(n, e):
                i = index.get(d)
                if i is None:
                    i = index[d] = len(table)
                    table.append(d)
                out.append(i)
            return out

        return table, ids_of


def _drop_unused(table: list[tuple[str, str, str]], targets: dict[str, dict[str, Any]]
                 ) -> list[tuple[str, str, str]]:
    """The table without the dependencies no target names, once they are many (ids renumbered)."""
    used: set[int] = set()
    for t in targets.values():
        used.update(t["inventory_deps"], t["input_deps"])
    if len(table) <= 2 * len(used) + 256:
        return table
    order = sorted(used)
    renumber = {old: new for new, old in enumerate(order)}
    for t in targets.values():
        t["inventory_deps"] = [renumber[i] for i in t["inventory_deps"]]
        t["input_deps"] = [renumber[i] for i in t["input_deps"]]
    return [table[i] for i in order]


def _stamps(base: str, dirs: list[str], run_started_ns: int) -> dict[str, list[int]]:
    """``base`` and its ``dirs``, stamped; none when one changed during this run (it may
    change again within the same tick of the file clock, unseen)."""
    stamps = {}
    for rel in ["", *dirs]:
        try:
            st = os.lstat(os.path.join(base, rel) if rel else base)
        except OSError:
            return {}
        if _changed_during_run(max(st.st_mtime_ns, st.st_ctime_ns), run_started_ns):
            return {}
        stamps[rel] = [st.st_ino, st.st_mtime_ns, st.st_ctime_ns]
    return stamps


def _scan_owned(compiled_dir: str, target_dirs: set[str], only: list[str] | None = None
                ) -> dict[str, dict[str, tuple[int, int, int] | None]]:
    """What lies in each target's dir under ``compiled/`` (all of it, or the dirs ``only``).

    Paths are grouped by the deepest target dir that holds them, relative to
    it: files map to (size, mtime_ns, mode), dirs to None, and the target's
    own dir appears under ``""``. Paths in no target's dir are left out (and
    their files are not even stat'ed).
    """
    owned: dict[str, dict[str, tuple[int, int, int] | None]] = {}

    def walk(path: str, rel: str, mine: dict | None, cut: int) -> None:
        try:
            entries = list(os.scandir(path))
        except OSError:
            return
        for e in entries:
            r = f"{rel}{e.name}"
            if e.is_dir(follow_symlinks=False):
                if r in target_dirs:
                    theirs = owned.setdefault(r, {})
                    theirs[""] = None
                    walk(e.path, r + "/", theirs, len(r) + 1)
                else:
                    if mine is not None:
                        mine[r[cut:]] = None
                    walk(e.path, r + "/", mine, cut)
            elif mine is not None:
                st = e.stat(follow_symlinks=False)
                mine[r[cut:]] = (st.st_size, st.st_mtime_ns, st.st_mode & 0o7777)

    if only is None:
        walk(compiled_dir, "", None, 0)
    else:
        for d in only:
            full = os.path.join(compiled_dir, d)
            if os.path.isdir(full):
                mine = owned.setdefault(d, {})
                mine[""] = None
                walk(full, d + "/", mine, len(d) + 1)
    return owned


def fingerprint(version: str, options: dict[str, Any]) -> str:
    """What makes two runs' outputs comparable: the tool version and the options."""
    return _digest([version, options])
