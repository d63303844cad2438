"""Interpolation: a merged tree in, plain resolved values out.

This is reclass's ``Parameters.interpolate`` without its per-value wrapper
objects. The merged tree is copied into fresh containers (the output shares
no container with the merged tree, with another target or with itself);
every unresolved node (:class:`Ref`, :class:`Stack`, a lone
:class:`Flagged`) becomes a :class:`Pending` slot. Slots resolve on demand,
depth first, when a reference reaches them, or in document order otherwise.
A reference to a container copies it; slots still pending inside it are
copied as new slots, as reclass does. :class:`Stack` contributions combine
as reclass's ``ValueList.render`` does (type rules, ``~`` overrides, ``=``
constants, ``allow_none_override``, ignoring a missing reference that a
later scalar overrides).

Problems are collected, not raised: a failed slot becomes ``None`` and the
slots that depend on it fail silently, so each root cause is reported once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import yaml

from ...yamlload import SafeLoader
from .classload import process
from .merge import merge
from .refparse import split_path
from .settings import EngineSettings
from .values import Flagged, Query, Ref, RefPath, Stack

log = logging.getLogger(__name__)

_TODO, _BUSY, _DONE, _FAILED = 0, 1, 2, 3


@dataclass(frozen=True)
class Issue:
    """One interpolation problem, before it is located in files."""

    kind: str  # undefined | cycle | type | constant | query
    path: tuple  # where in the parameters tree
    message: str
    ref: Ref | None = None  # the value whose reference failed
    chain: tuple = ()  # for cycles: the paths around the loop
    items: tuple = ()  # for type/constant: indices into the stack's contributions


class Pending:
    """A slot of the output tree whose value is not known yet."""

    __slots__ = ("container", "key", "node", "path", "state")

    def __init__(self, node: Any, container: Any, key: Any, path: tuple):
        self.node = node
        self.container = container
        self.key = key
        self.path = path
        self.state = _TODO


class Unresolved(Exception):
    """A reference whose path does not exist (reclass's ResolveError)."""

    def __init__(self, ref: str):
        super().__init__(ref)
        self.ref = ref


class _Failed(Exception):
    """A dependency failed and was already reported."""


class _Reported(Exception):
    """This slot failed; the problem is recorded already."""


_SPECIAL = (Ref, Flagged, Stack, Pending)
QueryHook = Callable[[Query, "Resolver", tuple], Any]


class Resolver:
    """Interpolates one merged ``parameters`` (or ``exports``) tree."""

    def __init__(self, settings: EngineSettings, tree: dict, query_hook: QueryHook | None = None,
                 context: Resolver | None = None, shapes: dict | None = None):
        self.settings = settings
        self.issues: list[Issue] = []
        self.query_hook = query_hook
        # References resolve against ``context`` (exports read parameters).
        self.context = context or self
        # id -> (tree, nested keys, unresolved keys) of merged trees, shared by
        # every target of a run: merged trees are immutable, so their shapes are too.
        self._shapes = {} if shapes is None else shapes
        self._work: list[Pending] = []
        self._chain: list[Pending] = []
        root: dict = {}
        for k, v in tree.items():
            tv = type(v)
            if tv is dict or tv is list:
                root[k] = self._copy_tree(v, (k,))
            elif tv in _SPECIAL:
                self._slot(v, root, k, (k,))
            else:
                root[k] = v
        self.root = root

    # -- copying --------------------------------------------------------------
    def _copy(self, value: Any, path: tuple) -> Any:
        """Fresh containers for ``value``; unresolved nodes become registered slots."""
        t = type(value)
        if t is dict:
            out: dict = {}
            for k, v in value.items():
                tv = type(v)
                if tv is dict or tv is list:
                    out[k] = self._copy(v, (*path, k))
                elif tv in _SPECIAL:
                    self._slot(v, out, k, (*path, k))
                else:
                    out[k] = v
            return out
        if t is list:
            lst: list = []
            for i, v in enumerate(value):
                tv = type(v)
                if tv is dict or tv is list:
                    lst.append(self._copy(v, (*path, i)))
                elif tv in _SPECIAL:
                    lst.append(None)
                    self._slot(v, lst, i, (*path, i))
                else:
                    lst.append(v)
            return lst
        return value

    def _copy_tree(self, value: Any, path: tuple) -> Any:
        """:meth:`_copy` for merged (immutable, shared) trees, their shapes cached."""
        shape = self._shapes.get(id(value))
        if shape is None:
            items = value.items() if type(value) is dict else enumerate(value)
            nested, special = [], []
            for k, v in items:
                tv = type(v)
                if tv is dict or tv is list:
                    nested.append(k)
                elif tv in _SPECIAL:
                    special.append(k)
            if not nested and not special:
                # A leaf: scanning it again costs what copying it does, and caching
                # every leaf of a big class would cost more memory than the class.
                return value.copy()
            shape = (value, tuple(nested), tuple(special))
            self._shapes[id(value)] = shape
        _, nested, special = shape
        out = value.copy()
        for k in nested:
            out[k] = self._copy_tree(value[k], (*path, k))
        for k in special:
            self._slot(value[k], out, k, (*path, k))
        return out

    def _slot(self, node: Any, container: Any, key: Any, path: tuple) -> None:
        t = type(node)
        if t is Pending:
            node = node.node
            t = type(node)
        if t is Flagged:  # alone: its value as written
            raw = node.raw
            tr = type(raw)
            if tr is dict or tr is list:
                container[key] = self._copy_tree(raw, path)
                return
            if tr not in _SPECIAL:
                container[key] = raw
                return
            node = raw
        slot = Pending(node, container, key, path)
        container[key] = slot
        self._work.append(slot)

    # -- driving --------------------------------------------------------------
    def run(self) -> dict:
        """Resolve every slot; the plain tree (problems are in ``issues``)."""
        work = self._work
        i = 0
        while i < len(work):
            slot = work[i]
            i += 1
            if slot.state == _TODO:
                with contextlib.suppress(_Failed, _Reported):
                    self._resolve(slot)
        return self.root

    def _resolve(self, slot: Pending) -> Any:
        state = slot.state
        if state == _DONE:
            return slot.container[slot.key]
        if state == _FAILED:
            raise _Failed
        if state == _BUSY:
            start = self._chain.index(slot)
            loop = tuple(s.path for s in self._chain[start:])
            first = self._chain[start]
            self.issues.append(Issue("cycle", first.path, "reference cycle", _ref_of(first.node),
                                     chain=(*loop, slot.path)))
            for s in self._chain[start:]:
                s.state = _FAILED
            raise _Reported
        slot.state = _BUSY
        self._chain.append(slot)
        try:
            value = self._evaluate(slot.node, slot.path)
        except Unresolved as exc:
            self.issues.append(Issue("undefined", slot.path, f"undefined reference ${{{exc.ref}}}",
                                     _ref_of(slot.node)))
            return self._fail(slot)
        except _StackError as exc:
            issue = exc.issue
            if not issue.path:
                issue = replace(issue, path=slot.path, ref=_ref_of(slot.node))
            self.issues.append(issue)
            return self._fail(slot)
        except (_Failed, _Reported):
            return self._fail(slot)
        finally:
            self._chain.pop()
        if slot.state == _FAILED:  # part of a cycle found below
            raise _Reported
        t = type(value)
        if t is dict or t is list:
            value = self._copy(value, slot.path)
        elif t in _SPECIAL:
            self._slot(value, slot.container, slot.key, slot.path)
            value = slot.container[slot.key]
        slot.container[slot.key] = value
        slot.state = _DONE
        return value

    def _fail(self, slot: Pending) -> Any:
        slot.state = _FAILED
        slot.container[slot.key] = None
        raise _Reported

    # -- lookups --------------------------------------------------------------
    def lookup(self, ref: str, parts: list[str] | tuple[str, ...] | None = None) -> Any:
        """The value at reference path ``ref`` (slots on the way resolved first)."""
        ctx = self.context
        node: Any = ctx.root
        if parts is None:
            parts = split_path(ref)
        last = len(parts) - 1
        for i, key in enumerate(parts):
            t = type(node)
            if t is dict:
                try:
                    node = node[key]
                except KeyError:
                    raise Unresolved(ref) from None
            elif t is list and i < last:
                try:
                    node = node[int(key)]
                except (ValueError, IndexError):
                    # reclass fails hard here (no "overridden later" leniency)
                    raise _StackError(Issue("undefined", (), f"reference ${{{ref}}}: {key!r} is "
                                            "not an index of the list there")) from None
            else:
                raise Unresolved(ref)
            if type(node) is Pending:
                node = ctx._resolve(node)
        return node

    def deep(self, value: Any) -> Any:
        """``value`` with every slot inside it resolved in place (for ``str()``)."""
        t = type(value)
        if t is dict:
            for _k, v in value.items():
                if type(v) is Pending:
                    v = self.context._resolve(v)
                if type(v) is dict or type(v) is list:
                    self.deep(v)
        elif t is list:
            for v in value:
                if type(v) is Pending:
                    v = self.context._resolve(v)
                if type(v) is dict or type(v) is list:
                    self.deep(v)
        return value

    def _refpath(self, ref: RefPath, path: tuple) -> Any:
        text = ref.static
        if text is not None and ref.parts is not None:
            return self.lookup(text, ref.parts)
        if text is None:
            text = "".join(i if type(i) is str else self._text(self._refpath(i, path))
                           for i in ref.items)
        if self.settings.reference_defaults and "::" in text:
            text, default = text.split("::", 1)
            try:
                return self.lookup(text)
            except Unresolved:
                return yaml.load(default, Loader=SafeLoader) if default else None
        return self.lookup(text)

    def _text(self, value: Any) -> str:
        if type(value) is str:
            return value
        if type(value) is dict or type(value) is list:
            self.deep(value)
        return str(value)

    # -- evaluation -----------------------------------------------------------
    def _evaluate(self, node: Any, path: tuple) -> Any:
        t = type(node)
        if t is Ref:
            items = node.items
            if len(items) == 1:
                item = items[0]
                if type(item) is RefPath:
                    return self._refpath(item, path)
                return self._query(item, path)
            out = []
            for item in items:
                ti = type(item)
                if ti is str:
                    out.append(item)
                elif ti is RefPath:
                    out.append(self._text(self._refpath(item, path)))
                else:  # reclass only evaluates a query that is the whole value
                    raise _StackError(Issue("query", path, f"inventory query {item} must be "
                                                           "the whole value"))
            return "".join(out)
        if t is Stack:
            return self._stack(node, path)
        if t is Flagged:
            return self._evaluate(node.value, path) if type(node.value) is Ref else node.value
        return node

    def _query(self, query: Query, path: tuple) -> Any:
        if self.query_hook is None:
            raise _StackError(Issue("query", path, f"inventory query {query} is not available here"))
        return self.query_hook(query, self, path)

    def _stack(self, stack: Stack, path: tuple) -> Any:
        """reclass's ``ValueList.render``: combine contributions in merge order."""
        s = self.settings
        items = stack.items
        last = len(items) - 1
        output: Any = None
        last_error: Unresolved | None = None
        constant = False
        for n, item in enumerate(items):
            overwrite = is_constant = False
            if type(item) is Flagged:
                # As written: a ``~key`` mapping's own keys are processed only if
                # a later mapping merges into it.
                overwrite, is_constant = item.overwrite, item.constant
                item = item.raw
            try:
                if type(item) is Ref:
                    new = self._evaluate(item, path)
                    if type(new) is dict or type(new) is list:
                        new = self.deep(new)  # merged below: no slot may stay inside
                else:
                    new = item
            except Unresolved as exc:
                if (s.ignore_overwritten_missing_references
                        and not isinstance(output, dict | list) and n != last):
                    log.warning("Reference '${%s}' undefined (overridden later, at %s)",
                                exc.ref, ":".join(map(str, path)))
                    new = None
                    last_error = exc
                else:
                    raise
            if constant:
                if s.strict_constant_parameters:
                    raise _StackError(Issue("constant", path, "changes a constant parameter",
                                            items=(n - 1, n)))
                continue
            if output is None or overwrite:
                output = new
            elif isinstance(output, dict):
                if isinstance(new, dict):
                    output = merge(process(output), process(new))
                elif isinstance(new, list) or not (
                        s.allow_scalar_over_dict or (s.allow_none_override and new is None)):
                    raise _type_error(path, new, output, n)
                else:
                    output = new
            elif isinstance(output, list):
                if isinstance(new, list):
                    output = output + new
                elif isinstance(new, dict) or not (
                        s.allow_scalar_over_list or (s.allow_none_override and new is None)):
                    raise _type_error(path, new, output, n)
                else:
                    output = new
            elif isinstance(new, dict):
                if not s.allow_dict_over_scalar:
                    raise _type_error(path, new, output, n)
                output = new
            elif isinstance(new, list):
                if not s.allow_list_over_scalar:
                    raise _type_error(path, new, output, n)
                output = [output, *new]
            else:
                output = new
            if is_constant:
                constant = True
        if isinstance(output, dict | list) and last_error is not None:
            raise last_error
        return output


class _StackError(Exception):
    def __init__(self, issue: Issue):
        super().__init__(issue.message)
        self.issue = issue


def kind_of(value: Any) -> str:
    """A value's kind in messages: mapping, list or scalar."""
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    return "scalar"


def _type_error(path: tuple, new: Any, output: Any, n: int) -> _StackError:
    return _StackError(Issue("type", path, f"cannot merge {kind_of(new)} over {kind_of(output)}",
                             items=(n - 1, n)))


def _ref_of(node: Any) -> Ref | None:
    if type(node) is Ref:
        return node
    if type(node) is Flagged and type(node.value) is Ref:
        return node.value
    if type(node) is Stack:
        for item in node.items:
            ref = _ref_of(item)
            if ref is not None:
                return ref
    return None
