"""Provenance: which file and line set a value, in merge order, and what each write did.

Computed on demand (``kcompile explain``) from the entities a target merged,
so plain compiles pay nothing for it. For a key it lists every contribution
(the class, file:line, the value as written), what it did (set, merged,
concatenated, overridden), which ones a later write replaced, and for
interpolated values the references they used, followed to their own origins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .classload import Entity
from .interpolate import Resolver, Unresolved
from .node import contributions
from .refparse import split_path
from .values import Flagged, Query, Ref, RefPath, Stack

MAX_DEPTH = 6


@dataclass
class Contribution:
    """One write of a key (or of a parent that is not a mapping)."""

    file: str
    line: int
    source: str  # class name, target name, or <automatic parameters>
    path: str  # the key path written (may be a parent of the asked key)
    raw: Any  # as written, references not interpolated
    action: str = "set"  # set | merged | concatenated | overrides | replaces (~) | constant
    overridden: bool = False
    references: list[Reference] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"file": self.file, "line": self.line, "source": self.source, "path": self.path,
                "raw": self.raw, "action": self.action, "overridden": self.overridden,
                "references": [r.as_dict() for r in self.references]}


@dataclass
class Reference:
    """A reference used by a contribution, with the origin of the value it read."""

    ref: str
    value: Any = None
    error: str = ""
    contributions: list[Contribution] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"ref": self.ref, "value": self.value, "error": self.error,
                "contributions": [c.as_dict() for c in self.contributions]}


@dataclass
class Explanation:
    """The answer for one key of one target."""

    target: str
    key: str
    found: bool
    value: Any
    contributions: list[Contribution]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"target": self.target, "key": self.key, "found": self.found, "value": self.value,
                "contributions": [c.as_dict() for c in self.contributions]}


def as_written(node: Any) -> Any:
    """A merge-tree value as it was written: references as their source text."""
    t = type(node)
    if t is Ref:
        return node.raw
    if t is Flagged:
        return as_written(node.raw)
    if t is Stack:
        return [as_written(i) for i in node.items]
    if t is dict:
        return {str(k): as_written(v) for k, v in node.items()}
    if t is list:
        return [as_written(v) for v in node]
    return node


def key_path(key: str) -> tuple[str, ...]:
    """``a.b.c`` or ``a:b:c`` (an optional leading ``parameters``) as a key path."""
    sep = ":" if ":" in key else "."
    parts = [p for p in (split_path(key, sep) if sep == ":" else key.split(".")) if p != ""]
    if parts and parts[0] == "parameters":
        parts = parts[1:]
    return tuple(parts)


class Explainer:
    """Explains keys of one resolved target."""

    def __init__(self, target: str, entities: list[Entity], meta: dict, resolver: Resolver):
        self.target = target
        self.entities = entities
        self.meta = meta
        self.resolver = resolver

    def explain(self, path: tuple[str, ...]) -> Explanation:
        """Final value and contributions of ``path``."""
        key = ":".join(path)
        try:
            value = self.resolver.lookup(key, path)
            found = True
        except Unresolved:
            value, found = None, False
        return Explanation(self.target, key, found, value, self._contributions(path, 0, set()))

    def _contributions(self, path: tuple, depth: int, seen: set) -> list[Contribution]:
        out: list[Contribution] = []
        if self.meta and path and path[0] == "_reclass_":
            node: Any = {"_reclass_": self.meta}
            for k in path:
                node = node.get(k) if isinstance(node, dict) else None
            if node is not None:
                out.append(Contribution("", 0, "<automatic parameters>", ":".join(path), node))
        nodes: list[Any] = [c.raw for c in out]
        for ent, written, raw in contributions(self.entities, "parameters", path):
            src = ent.source
            out.append(Contribution(src.display, src.line_of("parameters", written), src.name,
                                    ":".join(map(str, written)), as_written(raw),
                                    references=self._references(raw, depth, seen)))
            nodes.append(raw)
        self._label(out, nodes)
        return out

    def _label(self, contribs: list[Contribution], nodes: list[Any]) -> None:
        """Mark what each contribution did to the value before it."""
        live: list[Contribution] = []
        prev_kind = None
        for c, node in zip(contribs, nodes, strict=True):
            overwrite = type(node) is Flagged and node.overwrite
            kind = self._kind(node)
            if not live:
                c.action = "set"
            elif overwrite:
                c.action = "replaces (~)"
            elif prev_kind == kind == "mapping":
                c.action = "merged"
            elif prev_kind == kind == "list":
                c.action = "concatenated"
            else:
                c.action = "overrides"
            if c.action in ("replaces (~)", "overrides"):
                for old in live:
                    old.overridden = True
                live = []
            if type(node) is Flagged and node.constant:
                c.action += " (constant)"
            live.append(c)
            prev_kind = kind

    def _kind(self, node: Any) -> str:
        if type(node) is Flagged:
            node = node.raw
        if type(node) is Ref:
            try:
                node = self.resolver._evaluate(node, ())
            except Exception:
                return "reference"
        if isinstance(node, dict):
            return "mapping"
        if isinstance(node, list):
            return "list"
        return "scalar"

    def _references(self, node: Any, depth: int, seen: set) -> list[Reference]:
        refs: list[Reference] = []
        for ref in _refs_in(node):
            text = str(ref)[2:-1] if type(ref) is RefPath else str(ref)
            item = Reference(str(ref))
            if type(ref) is Query:
                refs.append(item)
                continue
            try:
                if ref.static is None:
                    text = "".join(i if type(i) is str else self.resolver._text(
                        self.resolver._refpath(i, ())) for i in ref.items)
                    item.ref = "${" + text + "}"
                item.value = self.resolver.lookup(text)
            except Unresolved:
                item.error = "undefined"
            target = tuple(split_path(text))
            if depth < MAX_DEPTH and target not in seen:
                item.contributions = self._contributions(target, depth + 1, seen | {target})
            refs.append(item)
        return refs


def _refs_in(node: Any) -> list[RefPath | Query]:
    """References and queries written in a value (nested ones included)."""
    out: list[RefPath | Query] = []
    t = type(node)
    if t is Ref:
        for item in node.items:
            if type(item) is not str:
                out.append(item)
    elif t is Flagged:
        out.extend(_refs_in(node.raw))
    elif t is Stack:
        for item in node.items:
            out.extend(_refs_in(item))
    elif t is dict:
        for v in node.values():
            out.extend(_refs_in(v))
    elif t is list:
        for v in node:
            out.extend(_refs_in(v))
    return out
