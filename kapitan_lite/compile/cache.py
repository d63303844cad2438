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
the cache can cost a compile but never serve stale output. The cache file
is written atomically, and its directory ignores itself in git.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

from .deps import Deps, Hasher

CACHE_NAME = ".kcompile-cache"
STATE_FILE = "state.json"
# 3: each dependency, with the hash it had when recorded, is kept once in a
# table that targets name by index.
FORMAT = 3
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
    # Its dirs ("" and dirs) as last seen intact: rel -> [inode, mtime_ns, ctime_ns]. A dir
    # whose three are unchanged lists the same names, so only its files need a stat.
    stamps: dict[str, list[int]] = field(default_factory=dict)


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
        self._dirty = False
        if enabled:
            self._load()

    # -- reading -------------------------------------------------------------
    def _load(self) -> None:
        try:
            with open(os.path.join(self.dir, STATE_FILE), "rb") as fp:
                state = json.loads(fp.read())
            if state.get("format") != FORMAT or state.get("fingerprint") != self.fingerprint:
                return
            table = [(str(kind), str(path), str(digest)) for kind, path, digest in state["deps"]]
            pairs = [(kind, path) for kind, path, _ in table]
            entries, loaded = {}, {}
            for name, e in state["targets"].items():
                inv, inp = e["inventory_deps"], e["input_deps"]
                loaded[name] = [*inv, *inp]
                e["inventory_deps"] = [pairs[i] for i in inv]
                e["input_deps"] = [pairs[i] for i in inp]
                entries[name] = Entry(**e)
            known = state["files"]
            if not isinstance(known, dict) or not all(
                    isinstance(v, list) and len(v) == 5 for v in known.values()):
                raise ValueError("bad file table")
        except (OSError, ValueError, TypeError, KeyError, AttributeError, IndexError):
            return  # missing or corrupt: start empty, never trust it
        self.entries = entries
        self.hasher = Hasher(known)
        self._table, self._loaded, self._valid = table, loaded, [None] * len(table)

    def _unchanged(self, name: str) -> bool:
        """Whether every dependency of a loaded target hashes as it did when recorded."""
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
        if not self.enabled or not self.entries:
            return set()
        all_dirs = set(target_dirs.values())
        fresh = set()
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
            if self._stamped_intact(entry, compiled_dir) or self._scanned_intact(
                    entry, all_dirs, compiled_dir, run_started_ns):
                fresh.add(name)
        return fresh

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
    def _stamped_intact(self, entry: Entry, compiled_dir: str) -> bool:
        """Whether the target's dirs are as stamped and its files as written (False: look)."""
        if not entry.stamps or len(entry.stamps) != len(entry.dirs) + 1:
            return False
        base = os.path.join(compiled_dir, entry.target_dir) + os.sep  # + rel: a join per file
        lstat = os.lstat
        mine: dict[str, tuple[int, int, int] | None] = {}
        try:
            for rel, stamp in entry.stamps.items():
                st = lstat(base + rel)
                if [st.st_ino, st.st_mtime_ns, st.st_ctime_ns] != stamp:
                    return False
                mine[rel] = None
            for rel in entry.files:
                st = lstat(base + rel)
                mine[rel] = (st.st_size, st.st_mtime_ns, st.st_mode & 0o7777)
        except OSError:
            return False
        return self._output_intact(entry, mine, compiled_dir)

    def _scanned_intact(self, entry: Entry, all_dirs: set[str], compiled_dir: str,
                        run_started_ns: int | None) -> bool:
        """Whether the target's dir, read in full, holds what it wrote; stamps it if so."""
        mine = _scan_owned(compiled_dir, all_dirs, [entry.target_dir]).get(entry.target_dir, {})
        if not self._output_intact(entry, mine, compiled_dir):
            return False
        if run_started_ns is not None:
            stamps = _stamps(os.path.join(compiled_dir, entry.target_dir), entry.dirs,
                             run_started_ns)
            if stamps != entry.stamps:
                entry.stamps = stamps
                self._dirty = True
        return True

    @staticmethod
    def _output_intact(entry: Entry, mine: dict[str, tuple[int, int, int] | None],
                       compiled_dir: str) -> bool:
        """Whether the target's dir holds exactly what it wrote (``mine``: rel -> stat)."""
        if "" not in mine and (entry.files or entry.dirs):
            return False
        if set(mine) - {""} != set(entry.files) | set(entry.dirs):
            return False  # something missing, or something else there
        for rel, (sha, mode, size, mtime) in entry.files.items():
            st = mine[rel]
            if st is None:
                return False
            if st != (size, mtime, mode):
                full = os.path.join(compiled_dir, entry.target_dir, rel)
                if st[2] != mode:
                    return False
                with open(full, "rb") as fp:
                    if hashlib.sha256(fp.read()).hexdigest() != sha:
                        return False
        return all(mine[d] is None for d in entry.dirs)

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
        index: dict[tuple[str, str, str], int] = {}  # each dependency once, for all targets
        targets = {}
        for n, e in sorted(self.entries.items()):
            if n in keep:
                ids = [index.setdefault(d, len(index)) for d in self._dep_hashes(n, e)]
                cut = len(e.inventory_deps)
                targets[n] = {**vars(e), "inventory_deps": ids[:cut], "input_deps": ids[cut:]}
        state = {"format": FORMAT, "fingerprint": self.fingerprint, "deps": list(index),
                 "targets": targets, "files": files}
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".state-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fp:
                # dumps, not dump: only the one-shot encoder is the C one
                fp.write(json.dumps(state, separators=(",", ":")))
            os.replace(tmp, os.path.join(self.dir, STATE_FILE))
        except BaseException:
            os.unlink(tmp)
            raise


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
