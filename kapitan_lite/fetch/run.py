"""A fetch: pin each dependency, write it all or nothing, record the pins in the lock.

Dependencies of different sources are fetched concurrently (threads), those
of one source one after another, each source once. For each dependency:

1. its pin comes from ``kcompile.lock`` when the lock has it (and ``--update``
   does not name it), else from its fetcher's ``resolve``;
2. its content is written into a new temporary directory beside its
   destination (same filesystem) and checked;
3. it is merged into place by Kapitan's rules: without force, existing files
   are kept and dotfiles are not copied; with force, files are replaced (a
   helm chart whose ``output_path`` exists is skipped unless forced). The
   merged tree replaces the old one by renames, so a failure leaves the
   previous content; when nothing would change, nothing is written.

``--locked`` first resolves every dependency upstream and fails, naming each
one that differs from the lock, before anything is written.
"""

from __future__ import annotations

import filecmp
import hashlib
import importlib
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem, UserError
from . import lock as lockfile
from .base import Dependency, FetchContext, Fetcher, FetchError, Pin
from .cache import ContentCache
from .plan import Planned, plan_for

log = logging.getLogger(__name__)

# type -> (module, class): imported only when a dependency of that type is fetched.
FETCHERS = {
    "git": ("git", "GitFetcher"),
    "http": ("http", "HttpFetcher"),
    "https": ("http", "HttpFetcher"),
    "helm": ("helm", "HelmFetcher"),
    "oci": ("oci", "OciFetcher"),
}
MAX_THREADS = 8
# Temporary directories beside a destination; older than this, a killed run left them.
_TEMP_PREFIXES = (".kcompile-fetch-", ".kcompile-old-", ".kcompile-git-")
STALE_SECONDS = 3600


@dataclass(frozen=True)
class FetchOptions:
    """How a fetch runs."""

    offline: bool = False
    locked: bool = False
    # None: use the lock; () : re-resolve every dependency; else the sources to re-resolve.
    update: tuple[str, ...] | None = None
    write_lock: bool = True
    prune_lock: bool = False  # drop lock entries of dependencies not in this run
    cache_dir: str | None = None


@dataclass
class FetchReport:
    """What a fetch did."""

    fetched: int = 0
    written: int = 0  # files added or replaced
    kept: int = 0  # existing files kept (not forced)
    unchanged: int = 0  # files already as fetched
    skipped: list[str] = field(default_factory=list)  # helm output paths that exist
    lock_written: bool = False
    # One line per dependency fetched, in declaration order (printed with -v).
    details: list[str] = field(default_factory=list)


@dataclass
class _Stats:
    written: int = 0
    kept: int = 0
    unchanged: int = 0


class _Fetchers:
    """One fetcher instance per type for the run, created on first use."""

    def __init__(self) -> None:
        self._made: dict[tuple[str, str], Fetcher] = {}
        self._guard = threading.Lock()

    def get(self, kind: str) -> Fetcher:
        module, cls = FETCHERS[kind]
        with self._guard:
            if (module, cls) not in self._made:
                mod = importlib.import_module(f"{__package__}.{module}")
                self._made[(module, cls)] = getattr(mod, cls)()
            return self._made[(module, cls)]


def _problem(dep: Dependency, message: str) -> Problem:
    return Problem(dep.path, dep.line, dep.target, f"dependency {dep.describe()}: {message}")


def run_fetch(items: list[Planned], forced: set[int], options: FetchOptions,
              root: str) -> FetchReport:
    """Fetch ``items`` (``forced``: the indexes to fetch with force); raise :class:`UserError`.

    Every dependency that fails is a problem of the raised error; the others
    are fetched, and their pins recorded, all the same.
    """
    lock_path = os.path.join(root, lockfile.FILE)
    lock = lockfile.load(lock_path)
    had_lock = lock is not None
    lock = lock or lockfile.Lock()
    if options.offline and options.locked:
        raise UserError.of("--locked resolves upstream: it cannot run with --offline")
    fetchers = _Fetchers()
    report = FetchReport()
    with tempfile.TemporaryDirectory(prefix="kcompile-fetch-") as scratch:
        ctx = FetchContext(cache=ContentCache(options.cache_dir), offline=options.offline,
                           scratch=scratch)
        groups = _groups(items)

        if options.locked:
            problems = _check_locked(items, groups, lock if had_lock else None, fetchers, ctx)
            if problems:
                raise UserError(problems)

        pins: dict[int, Pin] = {}
        problems: list[Problem] = []
        stats: dict[int, _Stats] = {}

        def one_source(indexes: list[int]) -> None:
            resolved: dict[lockfile.Key, Pin] = {}
            for i in indexes:
                item = items[i]
                dep, force = item.dep, i in forced
                try:
                    if dep.type == "helm" and os.path.lexists(item.dest) and not force:
                        report.skipped.append(item.dest)
                        continue
                    fetcher = fetchers.get(dep.type)
                    pin = _pin_of(dep, lock, resolved, fetcher, ctx, options)
                    stats[i] = _materialize(item, pin, force, fetcher, ctx, root)
                    pins[i] = pin
                except FetchError as exc:
                    problems.append(_problem(dep, exc.message))
                except OSError as exc:
                    problems.append(_problem(dep, f"{type(exc).__name__}: {exc}"))

        _each_group(one_source, groups)

        for i, pin in pins.items():
            lock.set(items[i].dep, pin)
        if options.prune_lock and not problems:
            lock.keep_only({lockfile.key_of(item.dep) for item in items})
        if options.write_lock and not options.offline and (pins or had_lock):
            report.lock_written = lock.save(lock_path) if (lock.entries or had_lock) else False
        if problems:
            raise UserError(problems)
    report.fetched = len(pins)
    for i in sorted(stats):
        s, dep = stats[i], items[i].dep
        pin = ", ".join(f"{k} {v[:12] if len(v) >= 40 else v}" for k, v in sorted(pins[i].items()))
        report.details.append(f"{dep.describe()} -> {items[i].dest} ({pin}): {s.written} written, "
                              f"{s.kept} kept, {s.unchanged} unchanged")
    for s in stats.values():
        report.written += s.written
        report.kept += s.kept
        report.unchanged += s.unchanged
    return report


def _groups(items: list[Planned]) -> dict[str, list[int]]:
    """Item indexes by source; sources writing into the same tree share a group (run in turn)."""
    groups: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(item.dep.source, []).append(i)

    def overlap(a: list[int], b: list[int]) -> bool:
        return any(x == y or x.startswith(y + os.sep) or y.startswith(x + os.sep)
                   for x in (items[i].dest for i in a) for y in (items[j].dest for j in b))

    merged: list[list[int]] = []
    for indexes in groups.values():
        combined = list(indexes)
        for m in [m for m in merged if overlap(m, indexes)]:
            combined.extend(m)
            merged.remove(m)
        merged.append(combined)
    return {str(n): sorted(m) for n, m in enumerate(merged)}


def _each_group(work: Callable[[list[int]], None], groups: dict[str, list[int]]) -> None:
    """Run ``work`` on every group, groups concurrently."""
    if len(groups) <= 1:
        for indexes in groups.values():
            work(indexes)
        return
    with ThreadPoolExecutor(max_workers=min(MAX_THREADS, len(groups))) as pool:
        for future in [pool.submit(work, indexes) for indexes in groups.values()]:
            future.result()


def _pin_of(dep: Dependency, lock: lockfile.Lock, resolved: dict[lockfile.Key, Pin],
            fetcher: Fetcher, ctx: FetchContext, options: FetchOptions) -> Pin:
    """The pin to fetch ``dep`` at: the lock's, unless it is missing or being updated."""
    key = lockfile.key_of(dep)
    if key in resolved:
        return resolved[key]
    updating = options.update is not None and (not options.update or dep.source in options.update)
    pin = None if updating else lock.get(dep)
    if pin is None:
        if ctx.offline:
            raise FetchError("not in kcompile.lock, and --offline cannot resolve it "
                             "(run kcompile fetch once online)")
        pin = fetcher.resolve(dep, ctx)
    resolved[key] = pin
    return pin


def _check_locked(items: list[Planned], groups: dict[str, list[int]],
                  lock: lockfile.Lock | None, fetchers: _Fetchers,
                  ctx: FetchContext) -> list[Problem]:
    """``--locked``: resolve every dependency upstream; a problem for each that differs."""
    if lock is None:
        return [Problem(lockfile.FILE, 0, "", "--locked needs a kcompile.lock: "
                        "run kcompile fetch to write it")]
    problems: list[Problem] = []

    def one_source(indexes: list[int]) -> None:
        done: set[lockfile.Key] = set()
        for i in indexes:
            dep = items[i].dep
            key = lockfile.key_of(dep)
            if key in done:
                continue
            done.add(key)
            locked = lock.get(dep)
            if locked is None:
                problems.append(_problem(dep, "not in kcompile.lock (run kcompile fetch)"))
                continue
            try:
                upstream = fetchers.get(dep.type).resolve(dep, ctx)
            except FetchError as exc:
                problems.append(_problem(dep, exc.message))
                continue
            if upstream != locked:
                changes = ", ".join(f"{k} {locked.get(k, '-')} in kcompile.lock, "
                                    f"{upstream.get(k, '-')} upstream"
                                    for k in sorted({*locked, *upstream})
                                    if locked.get(k) != upstream.get(k))
                problems.append(_problem(dep, f"differs from kcompile.lock: {changes}"))

    _each_group(one_source, groups)
    return problems


def _is_file_dep(dep: Dependency) -> bool:
    return dep.type in ("http", "https") and not dep.option("unpack", False)


def _materialize(item: Planned, pin: Pin, force: bool, fetcher: Fetcher, ctx: FetchContext,
                 root: str) -> _Stats:
    """Write ``item`` at ``pin`` beside its destination, check it, and merge it into place."""
    dest = item.dest
    nothing = _all_there(item, pin, fetcher, ctx, force)
    if nothing is not None:
        return nothing
    parent = os.path.dirname(os.path.abspath(dest))
    if not _inside(root, parent):
        raise FetchError(f"output_path {item.dep.output_path} is outside the project")
    os.makedirs(parent, exist_ok=True)
    _clear_stale(parent)
    tmp = tempfile.mkdtemp(dir=parent, prefix=".kcompile-fetch-")
    os.chmod(tmp, 0o755)  # it may become output_path itself: a directory like any other
    try:
        fetcher.materialize(item.dep, pin, ctx, tmp)
        _verify(tmp)
        if _is_file_dep(item.dep):
            name = os.path.basename(item.dep.output_path.rstrip("/"))
            return _place_file(os.path.join(tmp, name), dest, force)
        return _place_tree(tmp, dest, force)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _clear_stale(parent: str) -> None:
    """Remove temporary directories a killed fetch left beside its destinations."""
    now = time.time()
    for name in os.listdir(parent):
        if name.startswith(_TEMP_PREFIXES):
            path = os.path.join(parent, name)
            try:
                if now - os.lstat(path).st_mtime > STALE_SECONDS:
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                continue


def _all_there(item: Planned, pin: Pin, fetcher: Fetcher, ctx: FetchContext,
               force: bool) -> _Stats | None:
    """Whether the fetch would change nothing, judged without materializing.

    Unforced: every file it would write exists (all are kept). Forced: every
    file exists with the bytes it would write. None when something may
    change, or the fetcher cannot list what it writes.
    """
    dest = item.dest
    if _is_file_dep(item.dep):
        return _Stats(kept=1) if not force and os.path.lexists(dest) else None
    listing = getattr(fetcher, "listing", None)
    if listing is None or not os.path.isdir(dest):
        return None
    files = listing(item.dep, pin, ctx)
    if files is None:
        return None
    if not force:
        visible = [n for n in files if not any(p.startswith(".") for p in n.split("/"))]
        if all(os.path.lexists(os.path.join(dest, n)) for n in visible):
            return _Stats(kept=len(visible))
        return None
    if all(_blob_id(os.path.join(dest, n)) == oid for n, oid in files.items()):
        return _Stats(unchanged=len(files))
    return None


def _blob_id(path: str) -> str | None:
    """The git blob id of a file (of its target text, for a symlink), or None if absent."""
    try:
        if os.path.islink(path):
            data = os.readlink(path).encode()
        elif os.path.isfile(path):
            with open(path, "rb") as fp:
                data = fp.read()
        else:
            return None
    except OSError:
        return None
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _inside(root: str, path: str) -> bool:
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root + os.sep)


def _verify(tree: str) -> None:
    """No symlink in what a fetcher wrote may point outside it."""
    real_tree = os.path.realpath(tree)
    for base, dirs, files in os.walk(tree):
        for name in dirs + files:
            path = os.path.join(base, name)
            if os.path.islink(path):
                real = os.path.realpath(path)
                if real != real_tree and not real.startswith(real_tree + os.sep):
                    rel = os.path.relpath(path, tree)
                    raise FetchError(f"{rel} is a symlink out of the dependency "
                                     f"(to {os.readlink(path)})")


def _place_file(src: str, dest: str, force: bool) -> _Stats:
    """Put one fetched file at ``dest``: kept if it exists (unless forced), else replaced atomically."""
    if not os.path.isfile(src):
        raise FetchError("the fetcher wrote no file")
    if os.path.isdir(dest) and not os.path.islink(dest):
        raise FetchError(f"output_path {dest} is a directory, not a file")
    if os.path.lexists(dest):
        if not force:
            return _Stats(kept=1)
        if os.path.isfile(dest) and filecmp.cmp(src, dest, shallow=False):
            return _Stats(unchanged=1)
    os.chmod(src, 0o644)
    os.replace(src, dest)
    return _Stats(written=1)


def _walk_files(tree: str, skip_dot: bool) -> Iterable[str]:
    """Every non-directory entry below ``tree``, relative, sorted (dot names left out if asked)."""
    for base, dirs, files in os.walk(tree):
        if skip_dot:
            dirs[:] = [d for d in dirs if not d.startswith(".")]
        dirs.sort()
        links = [d for d in dirs if os.path.islink(os.path.join(base, d))]
        for name in sorted(files + links):
            if skip_dot and name.startswith("."):
                continue
            yield os.path.relpath(os.path.join(base, name), tree)


def _same(a: str, b: str) -> bool:
    if os.path.islink(a) or os.path.islink(b):
        return os.path.islink(a) and os.path.islink(b) and os.readlink(a) == os.readlink(b)
    return os.path.isfile(b) and filecmp.cmp(a, b, shallow=False)


def _place_tree(src: str, dest: str, force: bool) -> _Stats:
    """Merge the fetched tree ``src`` into ``dest`` by Kapitan's rules, all or nothing."""
    stats = _Stats()
    if os.path.lexists(dest) and (os.path.islink(dest) or not os.path.isdir(dest)):
        raise FetchError(f"output_path {dest} exists and is not a directory")
    new = list(_walk_files(src, skip_dot=not force))
    changes = []
    same: set[str] = set()  # forced, but already these bytes: the old file stays (and its mtime)
    for rel in new:
        target = os.path.join(dest, rel)
        if not os.path.lexists(target) and not _blocked(dest, rel):
            changes.append(rel)
        elif not force:
            stats.kept += 1
        elif _same(os.path.join(src, rel), target):
            stats.unchanged += 1
            same.add(rel)
        else:
            changes.append(rel)
    if not force:
        _drop_dotfiles(src)
    if not os.path.exists(dest):
        os.rename(src, dest)
        stats.written = len(new)
        os.makedirs(src)  # the caller removes it
        return stats
    if not changes:
        return stats
    stats.written = len(changes)
    # Build the merged tree in src: add what dest has that src must not replace.
    for base, dirs, files in os.walk(dest):
        links = [d for d in dirs if os.path.islink(os.path.join(base, d))]
        dirs[:] = sorted(d for d in dirs if d not in links)
        rel_base = os.path.relpath(base, dest)
        for name in dirs:
            rel = os.path.normpath(os.path.join(rel_base, name))
            there = os.path.join(src, rel)
            if _room_for(src, rel, force) and not os.path.isdir(there):
                if os.path.lexists(there):
                    if force:
                        continue
                    os.unlink(there)
                os.mkdir(there)
        for name in files + links:
            rel = os.path.normpath(os.path.join(rel_base, name))
            there = os.path.join(src, rel)
            if not _room_for(src, rel, force):
                continue
            if os.path.lexists(there):
                if force and rel not in same:
                    continue  # the fetched entry replaces it
                if os.path.isdir(there) and not os.path.islink(there):
                    shutil.rmtree(there)
                else:
                    os.unlink(there)
            _link(os.path.join(base, name), there)
    old = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(dest)), prefix=".kcompile-old-")
    os.rmdir(old)
    os.rename(dest, old)
    try:
        os.rename(src, dest)
    except OSError:
        os.rename(old, dest)
        raise
    os.makedirs(src)
    shutil.rmtree(old, ignore_errors=True)
    return stats


def _room_for(src: str, rel: str, force: bool) -> bool:
    """Make the parent directories of ``src/rel``; False when a fetched file is in the way
    and ``force`` lets it win."""
    path = src
    for part in rel.split(os.sep)[:-1]:
        path = os.path.join(path, part)
        if os.path.islink(path) or (os.path.lexists(path) and not os.path.isdir(path)):
            if force:
                return False
            os.unlink(path)
        if not os.path.isdir(path):
            os.mkdir(path)
    return True


def _blocked(dest: str, rel: str) -> bool:
    """Whether a parent of ``dest/rel`` exists as something other than a directory."""
    parts = rel.split(os.sep)[:-1]
    path = dest
    for part in parts:
        path = os.path.join(path, part)
        if os.path.lexists(path) and (os.path.islink(path) or not os.path.isdir(path)):
            return True
    return False


def _drop_dotfiles(tree: str) -> None:
    """Remove entries whose name starts with a dot (Kapitan does not copy them unforced)."""
    for base, dirs, files in os.walk(tree):
        for name in [d for d in dirs if d.startswith(".")] + [f for f in files if f.startswith(".")]:
            path = os.path.join(base, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        dirs[:] = [d for d in dirs if not d.startswith(".")]


def _link(src: str, dest: str) -> None:
    """Hard-link (or copy) an existing entry into the merged tree."""
    if os.path.islink(src):
        os.symlink(os.readlink(src), dest)
        return
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def fetch_project(inventory: Any, names: list[str], output_path: str, root: str, *,
                  force: bool = False, only_force_fetch: bool = False,
                  options: FetchOptions | None = None) -> FetchReport | None:
    """Fetch the dependencies of targets ``names``; raise :class:`UserError` with every problem.

    ``only_force_fetch``: Kapitan's compile without ``--fetch``: only targets
    with a dependency that sets ``force_fetch`` are fetched, forced; None
    when there are none.
    """
    options = options or FetchOptions()
    plan = plan_for(inventory, names, output_path, root)
    if only_force_fetch:
        chosen = [n for n in names if n in plan.force_targets]
        if not chosen:
            return None
        plan = plan_for(inventory, chosen, output_path, root)
        force = True
    elif plan.unresolved:
        raise UserError(plan.unresolved + plan.problems)
    known = {item.dep.source for item in plan.items}
    unknown = [s for s in options.update or () if s not in known]
    if unknown:
        raise UserError([Problem("", 0, "", f"--update {s}: no selected target has a dependency "
                                 "with this source") for s in unknown])
    forced = set(range(len(plan.items))) if force else set()
    try:
        report = run_fetch(plan.items, forced, options, root)
    except UserError as exc:
        raise UserError(plan.problems + exc.problems) from None
    if plan.problems:
        raise UserError(plan.problems)
    return report


def summary(report: FetchReport) -> str:
    """One line saying what a fetch did."""
    n = report.fetched
    parts = [f"{report.written} files written"]
    if report.unchanged:
        parts.append(f"{report.unchanged} unchanged")
    if report.kept:
        parts.append(f"{report.kept} existing kept (--force-fetch replaces them)")
    line = f"fetched {n} dependenc{'y' if n == 1 else 'ies'}: {', '.join(parts)}"
    if report.skipped:
        line += f"; {len(report.skipped)} helm chart(s) skipped, their output_path exists"
    if report.lock_written:
        line += f"; {lockfile.FILE} written"
    return line
