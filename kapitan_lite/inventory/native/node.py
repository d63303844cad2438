"""Node resolution: the class walk, merged-prefix reuse, and one target's rendering.

The walk is reclass's ``Core._recurse_entity``: classes load depth first in
list order, each at most once per node (``seen``), a class's own classes
before the class, the target last. References in class names resolve
against what is merged so far. A missing class is an error unless
``ignore_class_notfound`` (and its regexp) allow it.

Reuse across targets: the state after each class merge is kept in a trie
keyed by (previous state, class), so targets that start with the same
classes share those merges. This is safe because a state depends only on
the sequence of entities merged so far, and merging never mutates a tree.
The one per-target input, ``_reclass_`` (the target's name), is kept out of
the shared trees and added at the end; a target whose classes write
``_reclass_`` themselves is merged without reuse, in exact reclass order.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .classload import Entity, LoadError, SourceFile, load_entity
from .merge import merge, merge_into
from .refparse import RefSyntaxError, parse, split_path
from .settings import EngineSettings
from .values import Flagged, Ref, RefPath, Stack

if TYPE_CHECKING:
    from ..wildcards import Expansion

log = logging.getLogger(__name__)


@dataclass(eq=False)
class State:
    """Everything merged so far for a node (never mutated once built)."""

    params: dict
    exports: dict
    classes: tuple[str, ...]
    applications: tuple[str, ...]
    seen: frozenset[str]
    sources: tuple[SourceFile, ...]
    children: dict = field(default_factory=dict)  # reuse trie: entity key -> State


EMPTY_STATE = State({}, {}, (), (), frozenset(), ())


class NodeError(Exception):
    """A problem that stops a node's class walk (located)."""

    def __init__(self, path: str, line: int, message: str):
        super().__init__(message)
        self.path = path
        self.line = line
        self.message = message


class _Redo(Exception):
    """A class writes ``_reclass_``: redo the walk in exact order, without reuse."""


@dataclass
class Walk:
    """The per-target context of a class walk."""

    name: str
    meta: dict  # the automatic ``_reclass_`` parameters
    exact: bool
    active: list[str] = field(default_factory=list)
    meta_after: tuple[str, ...] | None = None  # keys merged before ``_reclass_`` (class mappings)


def automatic_parameters(name: str, environment: str) -> dict:
    """reclass's ``_reclass_`` for node ``name``."""
    parts = name.split(".")
    return {"name": {"full": name, "short": parts[-1], "path": os.path.join(*parts),
                     "parts": parts},
            "environment": environment}


def own_applications(names: list[str]) -> tuple[list[str], list[str]]:
    """One entity's applications: (items, negations) as reclass's ``Applications`` builds them."""
    items: list[str] = []
    negations: list[str] = []
    for name in names:
        if name.startswith("~"):
            name = name[1:]
            negations.append(name)
            if name in items:
                items.remove(name)
        elif name not in items:
            items.append(name)
    return items, negations


class ClassWalker:
    """Walks a target's classes and merges them, reusing merged prefixes across targets."""

    def __init__(self, settings: EngineSettings, class_index: dict[str, str],
                 wildcards: Expansion | None = None):
        self.settings = settings
        self.index = class_index
        self.wildcards = wildcards
        self._entities: dict[str, Entity | LoadError] = {}
        self._root = State({}, {}, (), (), frozenset(), ())

    def load(self, path: str, name: str, kind: str) -> Entity:
        """A class or target file, parsed once per run."""
        key = f"{kind}:{name}:{path}"
        got = self._entities.get(key)
        if got is None:
            try:
                classes = origins = None
                if self.wildcards is not None:
                    classes, origins = self.wildcards.expanded(path), self.wildcards.origin(path)
                got = load_entity(SourceFile(path, name, kind, origins), classes)
            except LoadError as exc:
                got = exc
            self._entities[key] = got
        if isinstance(got, LoadError):
            raise got
        return got

    def walk(self, name: str, node_path: str, pathname: str) -> tuple[State, Walk, Entity]:
        """Merge target ``name``'s classes and itself; the final state."""
        node = self.load(node_path, name, "target")
        env = node.environment or self.settings.default_environment
        meta = automatic_parameters(name, env) if self.settings.automatic_parameters else {}
        try:
            ctx = Walk(name, meta, exact=node.mentions_reclass_meta)
            return self._walk(node, pathname, ctx), ctx, node
        except _Redo:
            ctx = Walk(name, meta, exact=True)
            return self._walk(node, pathname, ctx), ctx, node

    def _walk(self, node: Entity, pathname: str, ctx: Walk) -> State:
        state = self._root
        mapped = self._class_mappings(ctx.name, pathname)
        if mapped:
            base = Entity(SourceFile(node.source.path, "<class mappings>", "mappings"),
                          classes=mapped)
            state = self._recurse(base, state, ctx, merge_self=False)
            ctx.meta_after = tuple(state.params)
            state = self._merge(state, base, ctx)
        if ctx.exact and ctx.meta:
            meta = Entity(SourceFile(node.source.path, "<automatic parameters>", "meta"),
                          parameters={"_reclass_": ctx.meta})
            state = self._merge(state, meta, ctx)
        return self._recurse(node, state, ctx)

    def _class_mappings(self, name: str, pathname: str) -> list[str]:
        out: list[str] = []
        subject = pathname if self.settings.class_mappings_match_path else name
        for mapping in self.settings.class_mappings:
            lexer = shlex.shlex(mapping, posix=True)
            lexer.whitespace_split = True
            lexer.commenters = ""
            if mapping.startswith("/"):
                lexer.quotes += "/"
                lexer.escapedquotes += "/"
                key = lexer.get_token() or ""
                classes = list(lexer)
                m = re.search(key, subject)
                if m:
                    for cls in classes:
                        cls = m.expand(cls)
                        if cls not in out:
                            out.append(cls)
            else:
                key = lexer.get_token() or ""
                if fnmatch.fnmatchcase(subject, key):
                    for cls in lexer:
                        if cls not in out:
                            out.append(cls)
        return out

    def _recurse(self, entity: Entity, state: State, ctx: Walk, merge_self: bool = True) -> State:
        for i, declared in enumerate(entity.classes):
            name = declared
            if "${" in declared or "$[" in declared:
                name = self._class_name(declared, state, ctx, entity, i)
            if name in state.seen:
                continue
            path = self.index.get(name)
            if path is None:
                if self.settings.class_notfound_ignored(name):
                    if self.settings.ignore_class_notfound_warning:
                        log.warning("class %s not found, skipped (ignore_class_notfound)", name)
                    continue
                raise NodeError(entity.source.path, entity.source.entry_line("classes", i),
                                f"class {name} not found")
            if name in ctx.active:
                chain = " -> ".join([*ctx.active[ctx.active.index(name):], name])
                raise NodeError(entity.source.path, entity.source.entry_line("classes", i),
                                f"class cycle: {chain}")
            child = self.load(path, name, "class")
            ctx.active.append(name)
            state = self._recurse(child, state, ctx)
            ctx.active.pop()
        return self._merge(state, entity, ctx) if merge_self else state

    def _merge(self, state: State, entity: Entity, ctx: Walk) -> State:
        if entity.mentions_reclass_meta and not ctx.exact:
            raise _Redo
        kind = entity.source.kind
        cacheable = not ctx.exact and kind == "class"
        if cacheable:
            got = state.children.get(entity.source.name)
            if got is not None:
                return got
        params = entity.parameters
        classes = list(state.classes)
        for cls in entity.classes:
            if cls not in classes:
                classes.append(cls)
        apps = list(state.applications)
        items, negations = own_applications(entity.applications)
        for neg in negations:
            if neg in apps:
                apps.remove(neg)
        for app in items:
            if app not in apps:
                apps.append(app)
        new = State(
            params=merge_into(state.params, params),
            exports=merge_into(state.exports, entity.exports),
            classes=tuple(classes),
            applications=tuple(apps),
            seen=state.seen | {entity.source.name} if kind == "class" else state.seen,
            sources=(*state.sources, entity.source),
        )
        if cacheable:
            state.children[entity.source.name] = new
        return new

    # -- class names with references ----------------------------------------
    def _class_name(self, declared: str, state: State, ctx: Walk, entity: Entity, i: int) -> str:
        """Resolve references in a class name against the parameters merged so far."""
        where = (entity.source.path, entity.source.entry_line("classes", i))
        try:
            items = parse(declared)
        except RefSyntaxError as exc:
            raise NodeError(*where, f"cannot parse class name {declared!r}: {exc}") from None
        if items is None:
            return declared
        params = self.params_view(state, ctx)
        try:
            return "".join(i if type(i) is str else self._name_part(i, params) for i in items)
        except KeyError as exc:
            raise NodeError(*where, f"class name {declared} not resolvable: "
                                    f"undefined reference ${{{exc.args[0]}}}") from None

    def params_view(self, state: State, ctx: Walk) -> dict:
        """The merged parameters with ``_reclass_`` as reclass sees them at this point."""
        if ctx.exact or not ctx.meta:
            return state.params
        view = dict(state.params)
        view["_reclass_"] = ctx.meta
        return view

    def _name_part(self, item: Any, params: dict) -> str:
        if type(item) is not RefPath:
            raise KeyError(str(item))
        text = item.static
        if text is None:
            text = "".join(i if type(i) is str else self._name_part(i, params) for i in item.items)
        default = None
        if self.settings.reference_defaults and "::" in text:
            text, default = text.split("::", 1)
        node: Any = params
        parts = split_path(text)
        try:
            for n, key in enumerate(parts):
                if type(node) is Flagged:
                    node = node.raw
                if type(node) is dict:
                    node = node[key]
                elif type(node) is list and n < len(parts) - 1:
                    node = node[int(key)]
                else:
                    raise KeyError(text)
        except (KeyError, ValueError, IndexError):
            if default is not None:
                return default
            raise KeyError(text) from None
        if type(node) is Flagged:
            node = node.raw
        if type(node) is Ref:
            return str(node)  # reclass sees the unresolved value here
        if type(node) is Stack:
            return f"<unresolved value of {text}>"
        return str(node)


def parameters_tree(state: State, ctx: Walk) -> dict:
    """The target's merged parameters, ``_reclass_`` in reclass's place."""
    tree = state.params
    if ctx.exact or not ctx.meta:
        return tree
    meta = ctx.meta
    if ctx.meta_after is None:
        out = {"_reclass_": meta}
        out.update(tree)
        return out
    out = {k: tree[k] for k in ctx.meta_after}
    out["_reclass_"] = meta
    for k, v in tree.items():
        if k not in out:
            out[k] = v
    return out


def contributions(sources: list[Entity], section: str, path: tuple) -> list[tuple[Entity, tuple, Any]]:
    """Every value the entities wrote at ``path`` (or above it, as a non-mapping), in merge order.

    Each item is (entity, the key path written, the value as written).
    """
    out = []
    for ent in sources:
        node: Any = getattr(ent, section)
        for depth, key in enumerate(path):
            if type(node) is Flagged:
                node = node.value
            if type(node) is not dict:
                out.append((ent, path[:depth], node))
                break
            if key not in node:
                break
            node = node[key]
        else:
            out.append((ent, path, node))
    return out


def is_unresolved(value: Any) -> bool:
    """True for values that hold references or are combined after interpolation."""
    return type(value) in (Ref, Stack, Flagged)


def merged_value(sources: list[Entity], section: str, path: tuple) -> Any:
    """The merged (not interpolated) value at ``path`` over ``sources``."""
    tree: dict = {}
    for ent in sources:
        tree = merge_into(tree, getattr(ent, section))
    return value_at(tree, path)


def value_at(tree: dict, path: tuple[str, ...]) -> Any:
    """The value at ``path`` in a parameter tree (None when there is none)."""
    node: Any = tree
    for key in path:
        if type(node) is not dict or key not in node:
            return None
        node = node[key]
    return node


__all__ = ["ClassWalker", "NodeError", "State", "Walk", "contributions", "merge",
           "parameters_tree"]
