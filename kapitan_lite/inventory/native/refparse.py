"""Parse reclass strings: ``${a:b}`` references, ``$[...]`` queries and ``\\`` escapes.

This follows kapicorp-reclass's grammar (``values/parser_funcs.py``) token by
token, so escapes behave exactly as there:

* a string without ``${`` or ``$[`` is taken as it is (no escape processing);
* ``\\${`` is a literal ``${``; ``\\\\${x}`` is a backslash followed by the
  value of ``x``; inside a reference ``\\}`` is a literal ``}``;
* references nest: ``${a:${b}}``; a query ``$[...]`` runs to the next ``]``.

A malformed string (an unclosed ``${``) raises :class:`RefSyntaxError`.
"""

from __future__ import annotations

from .values import Query, RefPath

_REF_STOPS = ("${", "\\${", "\\\\${", "}", "\\}", "\\\\}")
_TOP_STOPS = ("${", "\\${", "\\\\${", "$[", "\\$[", "\\\\$[")
_SENTINELS = ("${", "}", "$[", "]")


class RefSyntaxError(ValueError):
    """A string that reclass's parser rejects; ``column`` is 0-based."""

    def __init__(self, message: str, column: int):
        super().__init__(message)
        self.column = column


def has_sentinel(text: str) -> bool:
    """True when reclass would parse ``text`` for references (it has ``${`` or ``$[``)."""
    return "${" in text or "$[" in text


def _double_escape(s: str, i: int) -> bool:
    """``\\\\`` followed by a sentinel: stands for one backslash."""
    return s.startswith("\\\\", i) and s.startswith(_SENTINELS, i + 2)


def _reference(s: str, i: int) -> tuple[RefPath, int] | None:
    """A ``${...}`` starting at ``i``: the reference and the index after it."""
    if not s.startswith("${", i):
        return None
    n = len(s)
    j = i + 2
    items: list = []
    while j < n:
        nested = _reference(s, j)
        if nested is not None:
            items.append(nested[0])
            j = nested[1]
            continue
        if _double_escape(s, j):
            items.append("\\")
            j += 2
        elif s.startswith("\\${", j):
            items.append("${")
            j += 3
        elif s.startswith("\\}", j):
            items.append("}")
            j += 2
        else:
            k = j
            while k < n and not s.startswith(_REF_STOPS, k):
                k += 1
            if k == j:
                break
            items.append(s[j:k])
            j = k
    if not items or not s.startswith("}", j):
        return None
    path = RefPath(tuple(_join_literals(items)))
    if path.static is not None and "::" not in path.static:
        path.parts = tuple(split_path(path.static))
    return path, j + 1


def _query(s: str, i: int) -> tuple[Query, int] | None:
    """A ``$[...]`` starting at ``i``: the query and the index after it."""
    if not s.startswith("$[", i):
        return None
    n = len(s)
    j = i + 2
    parts: list[str] = []
    while j < n:
        if _double_escape(s, j):
            parts.append("\\")
            j += 2
        elif s.startswith("\\$[", j):
            parts.append("$[")
            j += 3
        elif s.startswith("\\]", j):
            parts.append("]")
            j += 2
        elif s.startswith(("]", "\\\\]"), j):
            break
        else:
            k = s.find("]", j)
            k = n if k < 0 else k
            parts.append(s[j:k])
            j = k
    if not parts or not s.startswith("]", j):
        return None
    return Query("".join(parts)), j + 1


def _join_literals(items: list) -> list:
    out: list = []
    for item in items:
        if type(item) is str and out and type(out[-1]) is str:
            out[-1] += item
        else:
            out.append(item)
    return out


def parse(text: str) -> tuple | None:
    """The items of ``text`` (literal strings, :class:`RefPath`, :class:`Query`).

    ``None`` when ``text`` has no sentinel at all; a tuple with one string
    when it only had escapes.
    """
    if not has_sentinel(text):
        return None
    n = len(text)
    i = 0
    items: list = []
    while i < n:
        ref = _reference(text, i)
        if ref is not None:
            items.append(ref[0])
            i = ref[1]
            continue
        query = _query(text, i)
        if query is not None:
            items.append(query[0])
            i = query[1]
            continue
        if _double_escape(text, i):
            items.append("\\")
            i += 2
        elif text.startswith("\\${", i):
            items.append("${")
            i += 3
        elif text.startswith("\\$[", i):
            items.append("$[")
            i += 3
        else:
            k = i
            while k < n and not text.startswith(_TOP_STOPS, k):
                k += 1
            if k == i:
                what = "reference" if text.startswith("${", i) else "query"
                raise RefSyntaxError(f"unclosed {what} at column {i + 1}", i)
            items.append(text[i:k])
            i = k
    return tuple(_join_literals(items))


def split_path(path: str, delimiter: str = ":") -> list[str]:
    """A reference path's keys: split on ``delimiter`` unless it follows a backslash."""
    if "\\" not in path:
        return path.split(delimiter)
    parts, cur, i = [], "", 0
    while i < len(path):
        if path.startswith(delimiter, i) and not (i > 0 and path[i - 1] == "\\"):
            parts.append(cur)
            cur = ""
            i += len(delimiter)
        else:
            cur += path[i]
            i += 1
    parts.append(cur)
    return parts
