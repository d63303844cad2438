"""The class graph: which classes each target includes, in order, names resolved.

The native engine's own class walk is run for every target, so the graph is
exactly what a compile merges: relative names (``.x``) are made absolute,
references in class names (``${env}.base``) resolve against what is merged so
far, class mappings count, and classes skipped by ``ignore_class_notfound``
are left out. Only the merge runs, not interpolation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ...errors import Problem
from ..config import load_reclass_config
from ..engine_api import EngineProblems
from ..wildcards import scan
from .classload import Entity
from .engine import NativeEngine
from .node import ClassWalker, State, Walk


@dataclass
class TargetClasses:
    """One target's part of the graph."""

    name: str
    path: str  # its target file
    includes: list[str]  # the classes it names (class mappings first), resolved, in order
    sources: list[str]  # every class and target file merged into it, in merge order
    classes: list[str]  # every class merged into it, in merge order


@dataclass
class ClassGraph:
    """The graph of one inventory: targets, classes, and who includes whom."""

    targets: dict[str, TargetClasses] = field(default_factory=dict)
    # class -> its file, and the classes it includes: (position, name), sorted.
    # A class whose names hold references may include different classes per target.
    class_files: dict[str, str] = field(default_factory=dict)
    class_includes: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    errors: dict[str, list[Problem]] = field(default_factory=dict)  # targets that fail
    names: list[str] = field(default_factory=list)  # every target, in the inventory's order

    def reachable(self, targets: list[str]) -> list[str]:
        """The classes ``targets`` include, directly or not, sorted."""
        seen: set[str] = set()
        todo = [c for t in targets for c in self.targets[t].includes]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            todo.extend(n for _, n in self.class_includes.get(name, []))
        return sorted(seen)


class _RecordingWalker(ClassWalker):
    """The engine's walker, noting how each class name resolved for the current target."""

    def __init__(self, walker: ClassWalker):
        super().__init__(walker.settings, walker.index, walker.wildcards)
        self.resolved: dict[tuple[str, str, int], str] = {}
        self.mapped: list[str] = []

    def _class_name(self, declared: str, state: State, ctx: Walk, entity: Entity, i: int) -> str:
        name = super()._class_name(declared, state, ctx, entity, i)
        self.resolved[(entity.source.kind, entity.source.path, i)] = name
        return name

    def _class_mappings(self, name: str, pathname: str) -> list[str]:
        self.mapped = super()._class_mappings(name, pathname)
        return self.mapped

    def includes(self, entity: Entity) -> list[str]:
        """The classes ``entity`` names, as resolved in the last walk (found ones only)."""
        out = []
        for i, declared in enumerate(entity.classes):
            name = self.resolved.get((entity.source.kind, entity.source.path, i), declared)
            if name in self.index:
                out.append(name)
        return out


def class_graph(inventory_path: str, compose_target_name: bool = False,
                only: list[str] | None = None, class_wildcards: bool = False) -> ClassGraph:
    """The class graph of the inventory at ``inventory_path`` (of targets ``only``, or all).

    Paths are as the inventory path makes them (relative stays relative).
    Raises :class:`EngineProblems` when the inventory itself cannot load
    (a duplicated class); a target whose walk fails is in ``errors``.
    """
    wildcards = scan(inventory_path) if class_wildcards else None
    if wildcards is not None and wildcards.problems:
        raise EngineProblems(wildcards.problems)
    engine = NativeEngine(inventory_path, load_reclass_config(inventory_path, compose_target_name),
                          wildcards)
    walker = engine.walker = _RecordingWalker(engine.walker)
    graph = ClassGraph(names=list(engine.targets))
    includes: dict[str, set[tuple[int, str]]] = {}
    for name in sorted(engine.targets if only is None else only):
        walker.resolved, walker.mapped = {}, []
        try:
            state, _, node = engine.merged(name)
        except EngineProblems as exc:
            graph.errors[name] = list(exc.problems)
            continue
        classes: list[str] = []
        for src in state.sources:
            if src.kind != "class":
                continue
            classes.append(src.name)
            graph.class_files[src.name] = src.path
            entity = walker.load(src.path, src.name, "class")
            includes.setdefault(src.name, set()).update(enumerate(walker.includes(entity), 1))
        own = [n for n in walker.mapped if n in walker.index]
        own += [n for n in walker.includes(node) if n not in own]
        graph.targets[name] = TargetClasses(
            name, node.source.path, own,
            [s.path for s in state.sources if s.kind in ("class", "target")], classes)
    graph.class_includes = {c: sorted(v) for c, v in sorted(includes.items())}
    return graph


def relative_to(graph: ClassGraph, root: str) -> ClassGraph:
    """The same graph with its file paths relative to ``root`` (the working directory
    when the graph was built)."""
    def rel(path: str) -> str:
        return os.path.relpath(path, root) if os.path.isabs(path) else os.path.normpath(path)

    return ClassGraph(
        targets={n: TargetClasses(t.name, rel(t.path), t.includes, [rel(s) for s in t.sources],
                                  t.classes) for n, t in graph.targets.items()},
        class_files={c: rel(p) for c, p in graph.class_files.items()},
        class_includes=graph.class_includes, errors=graph.errors, names=graph.names)
