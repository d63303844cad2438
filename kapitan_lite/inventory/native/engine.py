"""kapitan-lite's own inventory engine: reclass semantics, located errors, shared prefixes.

``render(target)`` reads only the target's classes (each file parsed once per
run), merges them (reusing merged class prefixes across targets), then
interpolates. Every problem of a target comes back at once as located
:class:`Problem`\\ s inside an :class:`EngineProblems`.
"""

from __future__ import annotations

import os
from typing import Any

from ...errors import Problem, display_path
from ..config import absolute_uri
from ..engine_api import EngineError, EngineProblems, render_each
from ..targets import TargetFile, discover_targets
from ..wildcards import Expansion
from .classload import Entity, LoadError, index_classes
from .interpolate import Issue, Resolver
from .merge import merge
from .node import ClassWalker, NodeError, State, Walk, contributions, parameters_tree
from .provenance import Explainer
from .queries import QueryEvaluator
from .settings import EngineSettings
from .values import MISSING, Stack


class NativeEngine:
    """The native engine over one inventory."""

    name = "kapitan-lite"

    def __init__(self, inventory_path: str, config: dict[str, Any],
                 wildcards: Expansion | None = None,
                 targets: dict[str, TargetFile] | None = None):
        self.settings = EngineSettings.from_config(config)
        self.nodes_dir = absolute_uri(inventory_path, config["nodes_uri"])
        self.classes_dir = absolute_uri(inventory_path, config["classes_uri"])
        index, dups = index_classes(self.classes_dir)
        if dups:
            raise EngineProblems([Problem(b, 1, "", f"class {n} is also defined in {a}")
                                  for n, a, b in dups])
        # ``targets``: found already by the caller, in the same nodes dir.
        self.targets: dict[str, TargetFile] = targets if targets is not None else \
            discover_targets(self.nodes_dir, self.settings.compose_node_name)
        self.walker = ClassWalker(self.settings, index, wildcards)
        self.queries = QueryEvaluator(self)
        self.shapes: dict = {}  # shapes of merged trees, shared by every target (see Resolver)

    # -- the Engine interface -------------------------------------------------
    def render(self, target: str) -> dict[str, Any]:
        """Render one target: ``{classes, applications, parameters, exports, environment}``."""
        return self.resolve(target, self.queries.hook)[0]

    def render_all(self, targets: list[str]) -> dict[str, dict[str, Any] | EngineError]:
        """Render several targets; a failed target maps to its :class:`EngineProblems`."""
        return render_each(self, targets)

    # -- internals ------------------------------------------------------------
    def merged(self, target: str) -> tuple[State, Walk, Entity]:
        """The merged (not interpolated) state of ``target``."""
        tf = self.targets.get(target)
        if tf is None:
            raise EngineProblems([Problem(self.nodes_dir, 0, target, "target not found")], target)
        rel = os.path.splitext(os.path.relpath(tf.path, self.nodes_dir))[0]
        try:
            return self.walker.walk(target, tf.path, rel)
        except LoadError as exc:
            raise EngineProblems([Problem(exc.path, exc.line, target, exc.message)], target) from None
        except NodeError as exc:
            raise EngineProblems([Problem(exc.path, exc.line, target, exc.message)], target) from None

    def resolve(self, target: str, query_hook: Any,
                merged: tuple[State, Walk, Entity] | None = None) -> tuple[dict[str, Any], Resolver]:
        """Render ``target``; also return the parameters' resolver (for ``explain``).

        ``merged``: the target's merged state when the caller already has it (``lint``).
        """
        state, ctx, node = merged or self.merged(target)
        params = Resolver(self.settings, parameters_tree(state, ctx), query_hook,
                          shapes=self.shapes)
        params.run()
        exports = Resolver(self.settings, state.exports, query_hook, context=params,
                           shapes=self.shapes)
        exports.run()
        issues = [(i, "parameters") for i in params.issues]
        issues += [(i, "exports") for i in exports.issues]
        if issues:
            sources = self.entities(state)
            raise EngineProblems([self.locate(target, issue, section, sources)
                                  for issue, section in issues], target)
        return {
            "classes": list(state.classes),
            "applications": list(state.applications),
            "parameters": params.root,
            "exports": exports.root,
            "environment": node.environment or self.settings.default_environment,
        }, params

    def explainer(self, target: str) -> Explainer:
        """Provenance of ``target``'s parameters (``kcompile explain``)."""
        _, resolver = self.resolve(target, self.queries.hook)
        state, ctx, _ = self.merged(target)
        return Explainer(target, self.entities(state), ctx.meta, resolver)

    def entities(self, state: State) -> list[Entity]:
        """The entities merged into ``state``, in merge order."""
        out = []
        for src in state.sources:
            if src.kind in ("class", "target"):
                out.append(self.walker.load(src.path, src.name, src.kind))
        return out

    def locate(self, target: str, issue: Issue, section: str, sources: list[Entity]) -> Problem:
        """Turn an interpolation issue into a located problem."""
        key = ":".join(str(k) for k in issue.path)
        if section == "exports":
            key = "exports:" + key
        ref = issue.ref
        if issue.kind == "undefined" and ref is not None and ref.origin is not None:
            return Problem(ref.origin.file.path, ref.origin.line, target,
                           f"{issue.message} (in parameter {key})")
        if issue.kind == "cycle":
            chain = " -> ".join(":".join(map(str, p)) for p in issue.chain)
            if ref is not None and ref.origin is not None:
                return Problem(ref.origin.file.path, ref.origin.line, target,
                               f"reference cycle: {chain}")
            return Problem(self.targets[target].path, 0, target, f"reference cycle: {chain}")
        contribs = contributions(sources, section, issue.path)
        places = [(ent.source.path, ent.source.line_of(section, written))
                  for ent, written, _ in contribs]
        if issue.kind in ("type", "constant") and len(places) >= 2:
            a, b = _conflicting(contribs, issue)
            path, line = places[b]
            earlier = f"{display_path(places[a][0])}:{places[a][1]}"
            if issue.kind == "type":
                return Problem(path, line, target, f"{issue.message} at {key} (earlier value at {earlier})")
            return Problem(path, line, target, f"changes constant parameter {key} (set at {earlier})")
        if places:
            path, line = places[-1]
            return Problem(path, line, target, f"{issue.message} (at {key})")
        if ref is not None and ref.origin is not None:
            return Problem(ref.origin.file.path, ref.origin.line, target, f"{issue.message} (at {key})")
        return Problem(self.targets[target].path, 0, target, f"{issue.message} (at {key})")


def _conflicting(contribs: list[tuple[Entity, tuple, Any]], issue: Issue) -> tuple[int, int]:
    """The contributions behind the two stack items of a type or constant conflict.

    Contributions that merge plainly (mapping over mapping, list over list)
    form one stack item, so a stack item is not a contribution: merge the
    values as written again and see which contribution opened item ``b`` (the
    conflicting one) and which last fed item ``a`` (the earlier value).
    """
    fallback = (len(contribs) - 2, len(contribs) - 1)
    if len(issue.items) != 2:
        return fallback
    want_a, want_b = issue.items
    cur: Any = MISSING
    last_of: dict[int, int] = {}
    first_of: dict[int, int] = {}
    for i, (_, written, value) in enumerate(contribs):
        if len(written) != len(issue.path):
            continue  # written above the key: not one of this key's stack items
        cur = merge(cur, value)
        item = len(cur.items) - 1 if type(cur) is Stack else 0
        first_of.setdefault(item, i)
        last_of[item] = i
    if want_a in last_of and want_b in first_of:
        return last_of[want_a], first_of[want_b]
    return fallback
