"""The value types of the native engine's merged trees.

A class file's ``parameters`` become a tree of plain Python values (dicts,
lists, scalars) plus three node types for what reclass keeps unresolved until
every class is merged:

* :class:`Ref`: a string holding ``${...}`` references or ``$[...]`` queries;
* :class:`Flagged`: a value written under a ``~key`` (override) or ``=key``
  (constant) key;
* :class:`Stack`: the contributions of several classes to one key that can
  only be combined after interpolation (reclass's ``ValueList``).

Trees are never mutated once built: merging copies the dicts along the paths
it touches and shares everything else, so merged class prefixes can be reused
by every target that includes them.

Every node that needs one carries an :class:`Origin` (file, key path inside
the file); the line is looked up lazily, only when an error or ``explain``
asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MISSING: Any = object()  # "no value yet" (``None`` is a value)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a value was written: a file, the class it defines, the key path in it."""

    file: Any  # a classload.SourceFile (kept untyped to avoid an import cycle)
    path: tuple  # keys (and list indices) from the file's ``parameters``/``exports``
    section: str = "parameters"

    @property
    def line(self) -> int:
        """The 1-based line of this value in its file (0 when unknown)."""
        return self.file.line_of(self.section, self.path)

    @property
    def where(self) -> str:
        """``file:line``."""
        return f"{self.file.display}:{self.line}"


class RefPath:
    """One ``${...}``: its parts (literal text and nested references)."""

    __slots__ = ("items", "parts", "static")

    def __init__(self, items: tuple, parts: tuple[str, ...] | None = None):
        self.items = items
        # Without nested references the path is known at load time.
        self.static: str | None = (
            "".join(items) if all(type(i) is str for i in items) else None
        )
        # Its keys, when known and without the reference-default extension's ``::``.
        self.parts = parts

    def __str__(self) -> str:
        return "${" + "".join(str(i) for i in self.items) + "}"


class Query:
    """One ``$[...]`` inventory query (its text; parsed when evaluated)."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __str__(self) -> str:
        return "$[" + self.text + "]"


class Ref:
    """A string value with references: literal parts, :class:`RefPath` and :class:`Query` items.

    A value that is exactly one reference keeps the referenced value's type;
    otherwise the parts are joined as strings.
    """

    __slots__ = ("items", "origin", "raw")

    def __init__(self, items: tuple, raw: str, origin: Origin | None):
        self.items = items
        self.raw = raw
        self.origin = origin

    @property
    def single(self) -> RefPath | Query | None:
        """The only item when the value is exactly one reference or query."""
        if len(self.items) == 1 and type(self.items[0]) is not str:
            return self.items[0]
        return None

    def has_query(self) -> bool:
        """True when the value holds an inventory query."""
        return any(type(i) is Query for i in self.items)

    def __str__(self) -> str:
        # reclass's str() of an unresolved value: escapes already removed.
        return "".join(str(i) for i in self.items)

    def __repr__(self) -> str:
        return f"Ref({self.raw!r})"


class Flagged:
    """A value under ``~key`` (``overwrite``) or ``=key`` (``constant``).

    ``value`` is the value as it merges (dict keys processed); ``raw`` is
    what reclass outputs when nothing else is merged at that key (a
    ``~key`` mapping keeps its inner keys exactly as written).
    """

    __slots__ = ("constant", "origin", "overwrite", "raw", "value")

    def __init__(self, value: Any, raw: Any, overwrite: bool, constant: bool,
                 origin: Origin | None):
        self.value = value
        self.raw = raw
        self.overwrite = overwrite
        self.constant = constant
        self.origin = origin

    def __repr__(self) -> str:
        flag = "~" if self.overwrite else "="
        return f"Flagged({flag}{self.value!r})"


class Stack:
    """Contributions to one key that combine only after interpolation, in merge order."""

    __slots__ = ("items",)

    def __init__(self, items: tuple):
        self.items = items

    def __repr__(self) -> str:
        return f"Stack{self.items!r}"


SPECIAL = (Ref, Flagged, Stack)
CONTAINERS = (dict, list)
