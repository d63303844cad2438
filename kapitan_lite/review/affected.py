"""``affected``: the targets whose compiled output a change between two revisions can affect.

Two records say what a target's output depends on:

- the class graph of each side (:mod:`..inventory.native.classgraph`): the
  class and target files merged into each target, on the base and the head;
- the incremental cache of the working tree (:mod:`..compile.cache`): the
  templates, components, Jsonnet imports, ref files and other targets
  (``inventory_global``) each target read when it last compiled.

A cache record is used for a side only when every input it names hashes on
that side as it did when recorded: then compiling the target there reads
exactly those inputs (a compile is a function of what it reads), so a change
to nothing it names cannot change its output. A target is affected when a
file of its inventory changed, when a recorded input changed, when a target
it reads changed its inventory, when it is new or gone, or when no record
vouches for it on either side.

It errs on the side of "all": when a changed file is one no record names
(nor a class or target file), when the settings every target shares change
(``.kapitan``, ``reclass-config.yml``, the Jinja2 filters file), when a side's
inventory does not load, or when there is no cache, every target counts,
and :attr:`Affected.everything` says why.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from ..compile import cachefile
from ..compile.cache import CACHE_NAME, STATE_FILE, Cache, Entry
from ..compile.deps import EXISTS, FILE, GLOB, TREE
from ..compile.workarea import STAGING_NAME
from ..errors import KapitanLiteError, UserError
from ..inventory.config import CONFIG_FILE
from ..inventory.engine_api import EngineProblems
from ..inventory.native.classgraph import ClassGraph, class_graph, relative_to
from ..project import Settings
from .gitrev import changed_paths, materialise, open_repository, scratch

INVENTORY_EXTENSIONS = (".yml", ".yaml")


@dataclass
class Affected:
    """What a change can affect."""

    targets: list[str]  # sorted; every target of either side when ``everything``
    everything: str = ""  # why every target counts ("" when the analysis could tell)
    reasons: dict[str, str] = field(default_factory=dict)  # target -> why it is affected
    # target -> the changed files that reach it (its inventory's or its recorded inputs)
    causes: dict[str, list[str]] = field(default_factory=dict)
    classes: dict[str, str] = field(default_factory=dict)  # changed class file -> class name
    changed: list[str] = field(default_factory=list)  # the changed source files, sorted
    removed: list[str] = field(default_factory=list)  # targets only the base has
    reads: dict[str, str] = field(default_factory=dict)  # reader -> changed target it read

    def as_dict(self) -> dict[str, object]:
        """The JSON form."""
        return {"all": bool(self.everything), "reason": self.everything or None,
                "targets": self.targets, "removed": self.removed,
                "reasons": dict(sorted(self.reasons.items())), "changed": self.changed}


@contextmanager
def _inside(root: str) -> Iterator[None]:
    """Work in ``root`` (records and inventories use paths relative to the project)."""
    here = os.getcwd()
    os.chdir(root)
    try:
        yield
    finally:
        os.chdir(here)


def _global_files(settings: Settings) -> set[str]:
    """Files every target's output depends on."""
    inv = settings.inventory_path
    return {os.path.normpath(os.path.relpath(p, settings.root) if os.path.isabs(p) else p)
            for p in (".kapitan", os.path.join(inv, CONFIG_FILE),
                      os.path.join(inv, "reclass-config.yaml"), settings.jinja2_filters)}


def _matches(path: str, kind: str, dep: str) -> bool:
    """Whether a change to file ``path`` can change dependency ``(kind, dep)``."""
    if kind in (FILE, EXISTS, TREE):
        # a file dependency that is a directory hashes as its tree
        return path == dep or path.startswith(dep + "/") or dep == "."
    if kind == GLOB:
        # a path, or a directory holding it, that the pattern matches (fnmatch's *
        # also matches "/": more, never fewer, matches than glob)
        pattern = os.path.normpath(dep)
        parts = path.split("/")
        return any(fnmatch.fnmatchcase("/".join(parts[:i]), pattern)
                   for i in range(1, len(parts) + 1))
    return True  # a kind this code does not know: assume the worst


def _portable(entry: Entry, settings: Settings) -> bool:
    """Whether an entry's paths mean the same in another copy of the project: none
    is an absolute path into the project (the staging area, never in git, aside)."""
    inside = os.path.realpath(settings.root) + os.sep
    staging = os.path.realpath(os.path.join(settings.root, settings.output_path,
                                            STAGING_NAME)) + os.sep
    for _, path in [*entry.inventory_deps, *entry.input_deps]:
        if os.path.isabs(path):
            real = os.path.realpath(path) + os.sep
            if real.startswith(inside) and not real.startswith(staging):
                return False
    return True


@dataclass
class _Side:
    key: str
    root: str
    graph: ClassGraph
    cache: Cache
    _queries: dict[str, bool] = field(default_factory=dict)

    def uses_queries(self, target: str) -> bool:
        """Whether the target's inventory has ``$[ ]`` queries (it reads every target's)."""
        for path in self.graph.targets[target].sources:
            if path not in self._queries:
                try:
                    with open(os.path.join(self.root, path), encoding="utf-8",
                              errors="replace") as fp:
                        self._queries[path] = "$[" in fp.read()
                except OSError:
                    self._queries[path] = True
            if self._queries[path]:
                return True
        return False


def _load_side(key: str, root: str, settings: Settings, output_path: str,
               fingerprint: str) -> _Side | str:
    """One side's class graph and cache view; a string says why it can't be had."""
    with _inside(root):
        try:
            graph = relative_to(class_graph(settings.inventory_path,
                                            settings.compose_target_name,
                                            class_wildcards=settings.class_wildcards), root)
        except EngineProblems as exc:
            first = exc.problems[0].render() if exc.problems else "cannot load"
            return f"the {key} inventory does not load ({first})"
        except (UserError, KapitanLiteError, OSError) as exc:
            return f"the {key} inventory does not load ({exc})"
    return _Side(key, root, graph, Cache(output_path, fingerprint))


def _why_no_records(output_path: str, fingerprint: str) -> str:
    """Why the cache has no record at all."""
    try:
        state = cachefile.read(os.path.join(output_path, CACHE_NAME, STATE_FILE))
    except (OSError, ValueError):
        return "no compile cache (run kcompile first)"
    if not isinstance(state, dict) or state.get("fingerprint") != fingerprint:
        return "the compile cache is from other options or another kcompile (run kcompile first)"
    return "the compile cache records no target: their input types (kadet, ...) do not " \
           "say what they read"


def _target_names(settings: Settings, roots: Iterable[str]) -> list[str]:
    """Every target either side names, as far as their target files can be listed."""
    from .sides import target_dirs

    names: set[str] = set()
    for root in roots:
        with contextlib.suppress(UserError, KapitanLiteError, OSError):
            names.update(target_dirs(replace(settings, root=root)).values())
    return sorted(names)


def analyse(settings: Settings, changed: set[str], roots: dict[str, str]) -> Affected:
    """The targets a change can affect.

    ``changed``: the files that differ (relative to the project root);
    ``roots``: where each side (``base``, ``head``) of the project is on disk.
    The cache is the one of the project at ``settings.root``.
    """
    from ..compile.run import run_fingerprint

    compiled = os.path.normpath(settings.compiled_dir) + "/"
    cache_dir = os.path.normpath(os.path.join(settings.output_path, CACHE_NAME)) + "/"
    changed = {os.path.normpath(p) for p in changed
               if not (p + "/").startswith((compiled, cache_dir))}
    out = Affected([], changed=sorted(changed))
    if not changed:
        return out
    fp = run_fingerprint(settings)
    store = os.path.join(settings.root, settings.output_path)
    sides: list[_Side] = []
    for key in ("base", "head"):
        side = _load_side(key, roots[key], settings, store, fp)
        if isinstance(side, str):
            out.everything = side
            out.targets = _target_names(settings, roots.values())
            return out
        sides.append(side)
    base, head = sides
    names = sorted(set(base.graph.names) | set(head.graph.names))
    out.removed = sorted(set(base.graph.names) - set(head.graph.names))

    inventory_dirs = {os.path.normpath(os.path.join(settings.inventory_path, d)) + "/"
                      for d in ("classes", "targets")}
    for s in sides:
        for cls, path in s.graph.class_files.items():
            if path in changed:
                out.classes[path] = cls

    def inventory_changes(s: _Side, name: str) -> list[str]:
        t = s.graph.targets.get(name)
        return [] if t is None else [p for p in t.sources if p in changed]

    inventory_changed: dict[str, str] = {}  # target -> why its inventory may differ
    any_inventory = any(p.startswith(tuple(inventory_dirs)) for p in changed)
    for name in names:
        on = [s for s in sides if name in s.graph.names]
        hits = sorted({p for s in on for p in inventory_changes(s, name)})
        if hits:
            out.causes[name] = hits
        if len(on) == 1:
            inventory_changed[name] = "new target" if on[0] is head else "removed target"
        elif any(name in s.graph.errors for s in on):
            s = next(s for s in on if name in s.graph.errors)
            inventory_changed[name] = f"it does not resolve on the {s.key} side"
        elif hits:
            inventory_changed[name] = f"{hits[0]} changed"
        elif any_inventory and any(s.uses_queries(name) for s in on):
            inventory_changed[name] = "its inventory queries ($[ ]) read every target"

    # Which cache record vouches for each target, and on which side.
    records: dict[str, Entry] = {}
    if not base.cache.entries:
        out.everything = _why_no_records(store, fp)
    for s in sides:
        with _inside(s.root):
            for name in names:
                if name in records or name not in s.graph.names:
                    continue
                entry = s.cache.entries.get(name)
                if entry is None:
                    continue
                if s.root != settings.root and not _portable(entry, settings):
                    continue
                if s.cache.vouches(name, s.graph.names):
                    records[name] = entry

    explained = {p for p in changed
                 if p.startswith(tuple(inventory_dirs)) and p.endswith(INVENTORY_EXTENSIONS)}
    for name in names:
        why = inventory_changed.get(name, "")
        entry = records.get(name)
        if entry is not None:
            # Its inventory files are the class graph's business: exact, where the
            # record has every file a ${...} class name could match.
            hits = sorted({p for p in changed for kind, dep in entry.input_deps
                           if _matches(p, kind, dep)})
            explained.update(hits)
            if hits:
                out.causes[name] = sorted({*out.causes.get(name, []), *hits})
                why = why or f"{hits[0]} changed"
            read = set(entry.targets_read)
            if not why and read:
                if "*" in read:
                    hit = next((n for n in names if n in inventory_changed), None)
                else:
                    hit = next((n for n in sorted(read) if n in inventory_changed
                                or n not in head.graph.names), None)
                if hit is not None:
                    why = f"it reads target {hit} (inventory_global), which changed"
                    out.reads[name] = hit
        elif not why:
            why = "no cache record of what it reads vouches for it"
        if why:
            out.reasons[name] = why
    shared = _global_files(settings)
    for path in sorted(changed & shared):
        out.everything = out.everything or f"{path} changed: it can change every target"
    unexplained = sorted(changed - explained)
    if unexplained and not out.everything:
        more = f" (and {len(unexplained) - 1} more)" if len(unexplained) > 1 else ""
        out.everything = f"{unexplained[0]}{more} changed, and no target's recorded inputs " \
                         "include it"
    out.targets = names if out.everything else sorted(out.reasons)
    return out


def affected_between(settings: Settings, base: str, head: str | None) -> Affected:
    """What changing the project from revision ``base`` to ``head`` (``None``: the
    working tree) can affect. Raises :class:`RevisionError` for a bad revision."""
    repository = open_repository(settings.root)
    base_sha = repository.resolve(base)
    head_sha = repository.resolve(head) if head else None
    changed = changed_paths(repository, base_sha, head_sha)
    compiled = os.path.normpath(settings.compiled_dir) + "/"

    def sources(path: str) -> bool:
        return not path.startswith(compiled)

    with scratch() as tmp:
        roots = {"base": materialise(repository, base_sha, os.path.join(tmp, "base"), sources),
                 "head": settings.root if head_sha is None else
                 materialise(repository, head_sha, os.path.join(tmp, "head"), sources)}
        return analyse(settings, changed, roots)
