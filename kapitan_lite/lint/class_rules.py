"""Rules on the class graph: unused classes, duplicate includes, targets no label selects."""

from __future__ import annotations

from ..inventory.native.classload import Entity
from .findings import Finding
from .graph import Fleet


def unused_classes(fleet: Fleet) -> list[Finding]:
    """Class files that no target's class walk reaches."""
    used = {e.source.name for t in fleet.targets for e in t.entities if e.source.kind == "class"}
    if any(not t.entities for t in fleet.targets):
        return []  # a target that does not walk could use any class: say nothing
    return [Finding(path, 1, "unused-class", f"class {name} is used by no target")
            for name, path in sorted(fleet.engine.walker.index.items()) if name not in used]


def _closure(fleet: Fleet, name: str, memo: dict[str, frozenset[str]],
             active: frozenset[str] = frozenset()) -> frozenset[str]:
    """Every class ``name`` pulls in (itself included), from class names known without references."""
    if name in memo:
        return memo[name]
    ent = fleet.class_entity(name)
    out = {name}
    if ent is not None and name not in active:
        for cls in ent.classes:
            if "${" not in cls:
                out |= _closure(fleet, cls, memo, active | {name})
    memo[name] = frozenset(out)
    return memo[name]


def _duplicates_of(fleet: Fleet, ent: Entity, memo: dict[str, frozenset[str]]) -> list[Finding]:
    out = []
    src = ent.source
    listed: dict[str, int] = {}
    for i, cls in enumerate(ent.classes):
        line = src.entry_line("classes", i)
        if cls in listed:
            out.append(Finding(src.path, line, "duplicate-include",
                               f"class {cls} is already listed at line {listed[cls]}"))
            continue
        by = next((c for c in listed if "${" not in c and "${" not in cls
                   and cls in _closure(fleet, c, memo)), None)
        if by is not None:
            out.append(Finding(src.path, line, "duplicate-include",
                               f"class {cls} is already included by {by} "
                               f"(line {listed[by]}): this include does nothing"))
        listed[cls] = line
    return out


def duplicate_includes(fleet: Fleet) -> list[Finding]:
    """A class listed twice in one file, or after a listed class that already pulls it in."""
    memo: dict[str, frozenset[str]] = {}
    seen: set[str] = set()
    out = []
    for t in fleet.targets:
        for ent in t.entities:
            if ent.source.path in seen:
                continue
            seen.add(ent.source.path)
            out.extend(_duplicates_of(fleet, ent, memo))
    return out


def unlabelled_targets(fleet: Fleet) -> list[Finding]:
    """Targets without labels, when some targets have labels (``-l`` can never select them)."""
    def labels(params: dict | None) -> dict:
        got = ((params or {}).get("kapitan") or {}).get("labels")
        return got if isinstance(got, dict) else {}

    resolved = [t for t in fleet.targets if t.params is not None]
    labelled = sum(1 for t in resolved if labels(t.params))
    if not labelled:
        return []
    return [Finding(t.path, 1, "unlabelled-target",
                    f"target {t.name} has no labels, so no -l selects it "
                    f"({labelled} of {len(resolved)} targets have labels)")
            for t in resolved if not labels(t.params)]
