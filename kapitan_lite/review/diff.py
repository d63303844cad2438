"""``diff``: what a change does to the compiled output, between two revisions.

The base revision (and the head, when it is a revision rather than the
working tree) is materialised in a temporary directory (:mod:`.gitrev`). Each
side then runs in its own process (:mod:`.sides`), both at once: it resolves
its targets, then compiles what it is asked into a temporary output dir, and
the two trees are compared (:mod:`.compare`).

Work grows with the change, not with the inventory:

- no file of the project changed: nothing to compile, nothing differs;
- only inventory files changed: a target whose resolved inventory is the
  same on both sides, and whose templates read no changed target through
  ``inventory_global``, compiles to the same bytes on both sides. The head
  compiles every target (which tells who reads which targets); the base
  compiles only the targets whose inventory differs, then those readers;
- anything else changed (templates, refs, components, ...): both sides
  compile every target.

Either way, only the targets the change can affect are considered
(:mod:`.affected`: the class graph and what the compile cache recorded),
unless that cannot be known (no cache, a change nothing records).

With ``committed`` the committed ``compiled/`` trees are compared instead,
and nothing compiles.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from ..errors import Problem, UserError
from ..project import Settings
from .affected import Affected, analyse
from .compare import TreeDiff, compare_trees
from .gitrev import (
    Repository,
    RevisionError,
    changed_paths,
    materialise,
    open_repository,
    scratch,
)
from .sides import SideFailed, SideProcess, aside, target_dirs

WORKING_TREE = "working tree"


@dataclass(frozen=True)
class DiffRequest:
    """What to compare: ``head`` ``None`` is the working tree."""

    base: str = "HEAD"
    head: str | None = None
    names: tuple[str, ...] = ()
    committed: bool = False


@dataclass
class DiffResult:
    """The comparison and what was compared."""

    base: str  # "HEAD (1a2b3c4d)"
    head: str  # "working tree" or "REV (1a2b3c4d)"
    mode: str  # "compiled" or "committed"
    diff: TreeDiff
    seconds: float = 0.0
    compiled: tuple[int, int] = (0, 0)  # targets compiled on the base and head sides
    reach: Affected | None = None  # what the change can affect, when it was worked out


@dataclass(frozen=True)
class _Side:
    key: str  # "base" or "head"
    label: str
    settings: Settings  # root: where this side's project is on disk
    dirs: dict[str, str]  # its targets' dirs under compiled/

    @property
    def is_revision(self) -> bool:
        return self.label != WORKING_TREE


def _prefixes(settings: Settings) -> tuple[str, str]:
    """The compiled dir and the inventory dir, as path prefixes in the project."""
    return (os.path.normpath(settings.compiled_dir) + "/",
            os.path.normpath(settings.inventory_path) + "/")


def _keep(settings: Settings, committed: bool) -> Callable[[str], bool]:
    """Which files of a revision to write out: the sources, or the committed output."""
    compiled, inventory = _prefixes(settings)
    if committed:
        return lambda path: path.startswith((compiled, inventory))
    return lambda path: not path.startswith(compiled)


def _one_line(problems: list[Problem], root: str = "") -> str:
    """The first problem (paths as in the project) and how many more there are."""
    if not problems:
        return "unknown problem"
    first = problems[0]
    if root and first.path.startswith(root + os.sep):
        first = replace(first, path=os.path.relpath(first.path, root))
    more = len(problems) - 1
    return first.render() + (f" (and {more} more problem{'s' if more > 1 else ''})"
                             if more else "")


def _failed(side: _Side, exc: SideFailed | UserError) -> Exception:
    """The error to raise when a side does not resolve or compile."""
    if isinstance(exc, SideFailed) and exc.error:
        return RuntimeError(f"compiling {side.label}: {exc.error}")
    if not side.is_revision:
        return UserError(exc.problems)
    return RevisionError(f"{side.key} revision {side.label} does not compile: "
                         f"{_one_line(exc.problems, side.settings.root)}")


def run_diff(settings: Settings, request: DiffRequest) -> DiffResult:
    """Compare the compiled output of two revisions of the project at ``settings.root``.

    Raises :class:`RevisionError` for a bad revision, a missing repository
    or a revision that does not compile, and :class:`UserError` when the
    working tree does not compile.
    """
    start = time.monotonic()
    repository = open_repository(settings.root)
    base_sha = repository.resolve(request.base)
    head_sha = repository.resolve(request.head) if request.head else None
    compiled_prefix, inventory_prefix = _prefixes(settings)
    changed = {p for p in changed_paths(repository, base_sha, head_sha)
               if not p.startswith(compiled_prefix)}
    with scratch() as tmp:
        sides = [_side(repository, "base", request.base, base_sha, settings, tmp,
                       request.committed)]
        if head_sha:
            sides.append(_side(repository, "head", request.head or "", head_sha, settings,
                               tmp, request.committed))
        else:
            sides.append(_Side("head", WORKING_TREE, settings, target_dirs(settings)))
        dirs = {**sides[0].dirs, **sides[1].dirs}
        missing = [n for n in request.names if n not in dirs.values()]
        if missing:
            raise UserError([Problem(settings.inventory_path, 0, n, f"target not found in "
                                     f"{sides[0].label} nor in {sides[1].label}")
                             for n in missing])
        only = set(request.names) or None
        counts = (0, 0)
        reach = None
        if request.committed:
            trees: list[str | None] = [os.path.join(s.settings.root, s.settings.compiled_dir)
                                       for s in sides]
        elif not changed:
            trees = [None, None]  # same sources, same output
            only = set()
        else:
            reach = analyse(settings, changed, {s.key: s.settings.root for s in sides})
            inventory_only = all(p.startswith(inventory_prefix) for p in changed)
            todo = request.names if reach.everything else tuple(
                n for n in reach.targets if not request.names or n in request.names)
            if reach.everything or todo:
                trees, only, counts = _compile_both(sides, todo, tmp, inventory_only)
            else:
                trees, only = [None, None], set()
        diff = compare_trees(trees[0], trees[1], dirs, only)
        known = set(dirs.values())
        diff.compared = len(set(request.names) or known)
    mode = "committed" if request.committed else "compiled"
    return DiffResult(sides[0].label, sides[1].label, mode, diff,
                      time.monotonic() - start, counts, reach)


def _side(repository: Repository, key: str, rev: str, sha: str, settings: Settings,
          tmp: str, committed: bool) -> _Side:
    """Write revision ``sha`` out and read its targets."""
    label = repository.describe(rev, sha)
    root = materialise(repository, sha, os.path.join(tmp, key), _keep(settings, committed))
    side = _Side(key, label, replace(settings, root=root), {})
    try:
        return replace(side, dirs=target_dirs(side.settings))
    except UserError as exc:
        raise _failed(side, exc) from None


@contextmanager
def _processes(sides: list[_Side], names: tuple[str, ...],
               tmp: str) -> Iterator[list[SideProcess | None]]:
    """A running :class:`SideProcess` per side that has any of the targets."""
    procs: list[SideProcess | None] = []
    try:
        for side in sides:
            present = set(side.dirs.values())
            side_names = [n for n in names if n in present] if names else None
            if not present or side_names == []:
                procs.append(None)  # none of the requested targets is on this side
                continue
            output = os.path.join(tmp, f"{side.key}-out")
            procs.append(SideProcess(aside(side.settings, output), side_names))
        yield procs
    finally:
        for proc in procs:
            if proc is not None:
                proc.close()


def _compile_both(sides: list[_Side], names: tuple[str, ...], tmp: str,
                  inventory_only: bool) -> tuple[list[str | None], set[str] | None,
                                                 tuple[int, int]]:
    """Resolve and compile both sides at once, each only as far as needed.

    Returns the two compiled dirs (``None``: the side has no such targets),
    the targets that may differ (``None``: every one), and how many targets
    each side compiled.
    """
    with _processes(sides, names, tmp) as procs:
        digests: list[dict[str, str]] = []
        for side, proc in zip(sides, procs, strict=True):
            try:
                digests.append(proc.digests() if proc else {})
            except SideFailed as exc:
                raise _failed(side, exc) from None
        base, head = digests
        differ = {n for n in set(base) | set(head) if base.get(n) != head.get(n)}
        wanted = [differ & set(base), set(head)] if inventory_only else [set(base), set(head)]
        asked = [sorted(w) for w in wanted]
        for proc, todo in zip(procs, asked, strict=True):
            if proc and todo:
                proc.start_compile(todo)
        targets_read: dict[str, set[str]] = {}
        for side, proc, todo in zip(sides, procs, asked, strict=True):
            if proc and todo:
                try:
                    for name, read in proc.wait_compile().items():
                        targets_read.setdefault(name, set()).update(read)
                except SideFailed as exc:
                    raise _failed(side, exc) from None
        # A target whose own inventory is unchanged still differs when it read
        # one that changed (or all of them) through inventory_global.
        readers = {n for n, read in targets_read.items() if "*" in read or read & differ}
        maybe = differ | readers  # the targets that can differ
        late = sorted((readers & set(base)) - set(asked[0])) if inventory_only else []
        if procs[0] and late:
            procs[0].start_compile(late)
            try:
                procs[0].wait_compile()
            except SideFailed as exc:
                raise _failed(sides[0], exc) from None
        trees = [proc.compiled if proc else None for proc in procs]
        counts = (len(asked[0]) + len(late), len(asked[1]))
    # With -t, the digests only cover the targets asked for, so ``maybe`` does too.
    return trees, maybe if inventory_only else (set(names) or None), counts
