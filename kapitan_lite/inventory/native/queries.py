"""Inventory queries ``$[ ... ]`` over every target's ``exports`` (kapicorp-reclass's extension).

Forms (``exports:`` paths name a key in each target's exports, ``self:`` a
parameter of the querying target):

* ``$[ exports:k ]``: ``{target: value}`` for every target that exports ``k``;
* ``$[ exports:k if exports:t == v ]``: the same, for the targets that match;
* ``$[ if exports:t == v ]``: the names of the matching targets;
* tests combine with ``and``/``or`` left to right; ``==``/``!=`` compare;
* options: ``+AllEnvs`` (otherwise only targets of the same ``environment``)
  and ``+IgnoreErrors`` (skip targets whose exports fail to render).

Exports are rendered on first use, once per run, and only when a query asks.
"""

from __future__ import annotations

import copy
import operator
import re
from typing import TYPE_CHECKING, Any

from .interpolate import Issue, Resolver, _StackError
from .refparse import split_path
from .values import Query

if TYPE_CHECKING:
    from .engine import NativeEngine

_INT = re.compile(r"-?\d+$")
_REAL = re.compile(r"-?(\d+\.\d+|\.\d+|\d+\.)$")
_MISSING = object()


class QueryError(ValueError):
    """A query that cannot be parsed or evaluated."""


def _operand(token: str) -> tuple[str, Any]:
    if _INT.match(token):
        return "value", int(token)
    if _REAL.match(token):
        return "value", float(token)
    parts = split_path(token)
    head = parts[0].lower()
    if head == "exports":
        return "export", parts[1:]
    if head == "self":
        return "param", parts[1:]
    if head == "true":
        return "value", True
    if head == "false":
        return "value", False
    return "value", token


def _get(data: Any, parts: list[str]) -> Any:
    for key in parts:
        if isinstance(data, dict) and key in data:
            data = data[key]
        elif isinstance(data, list) and key.lstrip("-").isdigit() and -len(data) <= int(key) < len(data):
            data = data[int(key)]
        else:
            return _MISSING
    return data


class ParsedQuery:
    """A parsed query expression."""

    def __init__(self, text: str):
        tokens = text.split()
        self.all_envs = self.ignore_errors = False
        while tokens and tokens[0].startswith("+"):
            opt = tokens.pop(0).lower()
            if opt == "+allenvs":
                self.all_envs = True
            elif opt == "+ignoreerrors":
                self.ignore_errors = True
            else:
                raise QueryError(f"unknown query option {opt}")
        if not tokens:
            raise QueryError("empty query")
        self.value_path: list[str] | None = None
        if tokens[0].lower() != "if":
            kind, path = _operand(tokens.pop(0))
            if kind != "export":
                raise QueryError("a query's value must be an exports: path")
            self.value_path = path
        self.tests: list[tuple[tuple, str, tuple]] = []
        self.ops: list[str] = []
        self.is_list = False
        if tokens:
            if tokens.pop(0).lower() != "if":
                raise QueryError(f"expected 'if' in query {text!r}")
            self.is_list = self.value_path is None
            while True:
                if len(tokens) < 3 or tokens[1] not in ("==", "!="):
                    raise QueryError(f"bad test in query {text!r}")
                left, op, right = _operand(tokens[0]), tokens[1], _operand(tokens[2])
                self.tests.append((left, op, right))
                tokens = tokens[3:]
                if not tokens:
                    break
                logic = tokens.pop(0).lower()
                if logic not in ("and", "or"):
                    raise QueryError(f"expected and/or in query {text!r}")
                self.ops.append(logic)
        elif self.value_path is None:
            raise QueryError(f"bad query {text!r}")

    def matches(self, exports: dict, resolver: Resolver) -> bool:
        """Whether one target's exports pass the tests."""
        result = True
        for n, (left, op, right) in enumerate(self.tests):
            export = left if left[0] == "export" else right
            other = right if export is left else left
            if export[0] != "export":
                raise QueryError("a test needs an exports: path")
            wanted = resolver.lookup(":".join(other[1])) if other[0] == "param" else other[1]
            got = _get(exports, export[1])
            ok = False if got is _MISSING else (operator.eq if op == "==" else operator.ne)(got, wanted)
            if n == 0:
                result = ok
            elif self.ops[n - 1] == "and":
                result = result and ok
            else:
                result = result or ok
        return result


class QueryEvaluator:
    """Evaluates queries for one engine, rendering other targets' exports on demand."""

    def __init__(self, engine: NativeEngine):
        self.engine = engine
        self._exports: dict[str, tuple[str, dict] | Exception] = {}
        self._busy: set[str] = set()

    def _exports_of(self, name: str) -> tuple[str, dict]:
        got = self._exports.get(name)
        if got is None:
            if name in self._busy:
                got = QueryError(f"target {name}'s exports depend on an inventory query")
            else:
                self._busy.add(name)
                try:
                    state, ctx, node = self.engine.merged(name)
                    from .node import parameters_tree
                    params = Resolver(self.engine.settings, parameters_tree(state, ctx), self.hook,
                                      shapes=self.engine.shapes)
                    exports = Resolver(self.engine.settings, state.exports, self.hook,
                                       context=params, shapes=self.engine.shapes)
                    exports.run()
                    if exports.issues or params.issues:
                        issue = (exports.issues or params.issues)[0]
                        got = QueryError(f"target {name}: {issue.message}")
                    else:
                        env = node.environment or self.engine.settings.default_environment
                        got = (env, exports.root)
                except Exception as exc:  # a broken target: reported by the query
                    got = exc
                finally:
                    self._busy.discard(name)
            self._exports[name] = got
        if isinstance(got, Exception):
            raise got
        return got

    def hook(self, query: Query, resolver: Resolver, path: tuple) -> Any:
        """Evaluate ``query`` for the target that ``resolver`` renders."""
        try:
            parsed = ParsedQuery(query.text)
            env = None
            if not parsed.all_envs:
                meta = resolver.context.root.get("_reclass_")
                env = meta.get("environment") if isinstance(meta, dict) else None
            rows: list[tuple[str, dict]] = []
            for name in self.engine.targets:
                try:
                    node_env, exports = self._exports_of(name)
                except Exception as exc:
                    if parsed.ignore_errors:
                        continue
                    raise QueryError(f"{exc}") from None
                if env is not None and node_env != env:
                    continue
                rows.append((name, exports))
            if parsed.is_list:
                return [name for name, exp in rows if parsed.matches(exp, resolver)]
            out = {}
            for name, exp in rows:
                value = _get(exp, parsed.value_path or [])
                if value is _MISSING:
                    continue
                if parsed.tests and not parsed.matches(exp, resolver):
                    continue
                out[name] = copy.deepcopy(value)
            return out
        except QueryError as exc:
            raise _StackError(Issue("query", path, f"inventory query {query}: {exc}")) from None
