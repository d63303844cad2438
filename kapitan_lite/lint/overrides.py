"""Dead values, dead references and ``~`` overrides of nothing: each target's merges replayed.

For every target the writes of its entities (leaf values, and ``~key``
overrides) are replayed in merge order, as the engine merged them: a later
write at the same key replaces an earlier one when the key's final value is
not a mapping or a list (those merge and concatenate), and a ``~key`` replaces
everything at and below its key. A class write that some later write replaces
in every target that includes the class is dead. Each entity's writes are
listed once per run.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from ..inventory.native.classload import Entity
from ..inventory.native.node import value_at
from ..inventory.native.values import Flagged, Ref
from .findings import Finding
from .graph import Fleet

MAX_PLACES = 3


@dataclass(frozen=True, slots=True)
class Write:
    """One write of an entity: a leaf value, or (``replaces_only``) a ``~key`` mapping's override."""

    path: tuple[str, ...]
    is_ref: bool
    overwrite: bool
    replaces_only: bool = False


def entity_writes(ent: Entity) -> list[Write]:
    """The writes of an entity's parameters, in file order."""
    out: list[Write] = []

    def walk(tree: dict, prefix: tuple[str, ...]) -> None:
        for key, value in tree.items():
            path = (*prefix, key)
            overwrite = False
            if type(value) is Flagged:
                overwrite = value.overwrite
                value = value.value
            if type(value) is dict:
                if overwrite:
                    out.append(Write(path, False, True, replaces_only=True))
                walk(value, path)
            else:
                out.append(Write(path, type(value) is Ref, overwrite))

    walk(ent.parameters, ())
    return out


@dataclass
class Replay:
    """What every target's replay found, per (entity file, write)."""

    included: Counter  # entity path -> targets that merge it
    killed: Counter  # (entity path, write) -> targets where a later write replaced it
    killers: defaultdict  # (entity path, write) -> {(file, key path)}
    overrode_nothing: Counter  # (entity path, write) -> targets where a ~ found nothing


def replay(fleet: Fleet) -> tuple[Replay, dict[str, tuple[Entity, list[Write]]]]:
    """Replay every resolved target's writes.

    The live writes of a target are a flat mapping of key paths; for the
    ``~key`` paths of the fleet (few), each write knows once per run which of
    them are its prefixes, so finding what a ``~key`` replaces is a lookup.
    """
    writes: dict[str, tuple[Entity, list[Write]]] = {}
    for t in fleet.targets:
        for ent in t.entities:
            if ent.source.path not in writes:
                writes[ent.source.path] = (ent, entity_writes(ent))
    overwritten = {w.path for _, ws in writes.values() for w in ws if w.overwrite}
    under = {key: [tuple(w.path[:n] for n in range(1, len(w.path) + 1)
                         if w.path[:n] in overwritten) for w in ws]
             for key, (_, ws) in writes.items()}
    rep = Replay(Counter(), Counter(), defaultdict(set), Counter())
    for t in fleet.targets:
        if t.params is None:
            for ent in t.entities:  # merged but not resolved: counts, but proves nothing dead
                rep.included[ent.source.path] += 1
            continue
        live: dict[tuple[str, ...], list[tuple[str, Write]]] = {}
        below: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)  # ~path -> paths
        for ent in t.entities:
            key = ent.source.path
            rep.included[key] += 1
            for w, prefixes in zip(writes[key][1], under[key], strict=True):
                path = w.path
                if w.overwrite:
                    victims = [old for p in below.pop(path, ()) for old in live.pop(p, ())]
                    if not victims:
                        rep.overrode_nothing[(key, w)] += 1
                    for old in victims:
                        rep.killed[old] += 1
                        rep.killers[old].add((key, path))
                    if w.replaces_only:
                        continue
                olds = live.get(path)
                if olds is None:
                    live[path] = [(key, w)]
                    for p in prefixes:
                        below[p].append(path)
                    continue
                if not w.overwrite and olds and type(value_at(t.params, path)) not in (dict, list):
                    for old in olds:
                        rep.killed[old] += 1
                        rep.killers[old].add((key, path))
                    olds.clear()
                olds.append((key, w))
    return rep, writes


def _where(writes: dict[str, tuple[Entity, list[Write]]], key: str, path: tuple[str, ...]) -> str:
    src = writes[key][0].source
    return f"{src.display}:{src.line_of('parameters', path)}"


def override_findings(rep: Replay, writes: dict[str, tuple[Entity, list[Write]]],
                      rules: frozenset[str]) -> list[Finding]:
    """dead-value, dead-reference and override-nothing findings of a replay."""
    out: list[Finding] = []
    for (key, w), n in rep.killed.items():
        ent = writes[key][0]
        total = rep.included[key]
        if ent.source.kind != "class" or n < total:
            continue
        rule = "dead-reference" if w.is_ref else "dead-value"
        if rule not in rules:
            continue
        places = sorted({_where(writes, k, p) for k, p in rep.killers[(key, w)]})
        shown = ", ".join(places[:MAX_PLACES])
        if len(places) > MAX_PLACES:
            shown += f" and {len(places) - MAX_PLACES} more"
        what = "the reference in" if w.is_ref else "the value of"
        every = "the one target that includes" if total == 1 else \
            f"all {total} targets that include"
        out.append(Finding(ent.source.path, ent.source.line_of("parameters", w.path), rule,
                           f"{what} {':'.join(w.path)} is overridden in {every} "
                           f"{ent.source.name}, by {shown}"))
    if "override-nothing" in rules:
        for (key, w), n in rep.overrode_nothing.items():
            ent = writes[key][0]
            total = rep.included[key]
            if n < total:
                continue
            src = ent.source
            out.append(Finding(src.path, src.line_of("parameters", w.path), "override-nothing",
                               f"~{w.path[-1]} overrides nothing: {':'.join(w.path)} is not set "
                               f"before {src.name} in any of the {total} target(s) that merge it"))
    return out
