"""The fleet as lint sees it: every target's resolved parameters and merged entities, in order.

Built once per run from the native engine (whatever ``--backend`` says): each
target is walked once, and the same merged state is interpolated, so lint
resolves the fleet as ``kcompile inventory`` does, and keeps the merge order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem
from ..inventory import Inventory
from ..inventory.engine_api import EngineProblems
from ..inventory.kapitan_model import normalise_kapitan
from ..inventory.native.classload import Entity, LoadError
from ..inventory.native.engine import NativeEngine


@dataclass
class TargetGraph:
    """One target: its file, the entities it merged (classes, then itself), its parameters."""

    name: str
    path: str
    entities: list[Entity]
    params: dict[str, Any] | None  # None when the target does not resolve


@dataclass
class Fleet:
    """Every target of the inventory, and the problems of those that do not resolve."""

    engine: NativeEngine
    targets: list[TargetGraph]
    problems: list[Problem] = field(default_factory=list)

    def class_entity(self, name: str) -> Entity | None:
        """A class by name, loaded once per run (``None`` if missing or broken)."""
        path = self.engine.walker.index.get(name)
        if path is None:
            return None
        try:
            return self.engine.walker.load(path, name, "class")
        except LoadError:
            return None


def _target(engine: NativeEngine, name: str, path: str,
            problems: list[Problem]) -> TargetGraph:
    try:
        merged = engine.merged(name)
    except EngineProblems as exc:
        problems.extend(exc.problems)
        return TargetGraph(name, path, [], None)
    entities = engine.entities(merged[0])
    try:
        rendered, _ = engine.resolve(name, engine.queries.hook, merged)
    except EngineProblems as exc:
        problems.extend(exc.problems)
        return TargetGraph(name, path, entities, None)
    params, errs = normalise_kapitan(rendered["parameters"])
    if errs:
        problems.extend(Problem(path, 0, name, e) for e in errs)
        return TargetGraph(name, path, entities, None)
    return TargetGraph(name, path, entities, params)


def build_fleet(inventory_path: str, compose_target_name: bool,
                class_wildcards: bool = False) -> Fleet:
    """Resolve every target on the native engine and keep its merge order."""
    inv = Inventory(inventory_path, "kapitan-lite", compose_target_name, class_wildcards)
    engine = inv.engine
    assert isinstance(engine, NativeEngine)
    problems: list[Problem] = []
    targets = [_target(engine, name, inv.targets[name].path, problems)
               for name in sorted(inv.names())]
    return Fleet(engine, targets, sorted(set(problems)))
