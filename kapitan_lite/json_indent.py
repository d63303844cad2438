"""Indented JSON, byte-identical to ``json.dumps(obj, indent=N, sort_keys=True)``, faster.

The standard library encodes indented JSON in pure Python. Here every
container whose items are all scalars (most of an inventory) is encoded by
the C encoder, with the item separator carrying the newline and indent;
only containers of containers are walked in Python. Output is produced in
chunks, so a large inventory can be streamed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from json.encoder import encode_basestring_ascii
from typing import Any

_CONTAINERS = (dict, list, tuple)


class IndentedJSON:
    """An encoder for one indent width."""

    def __init__(self, indent: int = 2):
        self.indent = indent
        self._leaf: dict[int, json.JSONEncoder] = {}

    def _leaf_encoder(self, level: int) -> json.JSONEncoder:
        enc = self._leaf.get(level)
        if enc is None:
            sep = ",\n" + " " * (self.indent * level)
            enc = self._leaf[level] = json.JSONEncoder(sort_keys=True, separators=(sep, ": "))
        return enc

    def chunks(self, obj: Any, level: int = 0) -> Iterator[str]:
        """The encoding of ``obj`` nested ``level`` deep, in pieces."""
        t = type(obj)
        if t is dict:
            values = obj.values()
        elif t is list:
            values = obj
        else:
            yield json.dumps(obj)
            return
        if not obj:
            yield "{}" if t is dict else "[]"
            return
        inner = " " * (self.indent * (level + 1))
        outer = " " * (self.indent * level)
        if not any(type(v) in _CONTAINERS for v in values):
            text = self._leaf_encoder(level + 1).encode(obj)
            yield text[0] + "\n" + inner + text[1:-1] + "\n" + outer + text[-1]
            return
        if t is dict and not all(type(k) is str for k in obj):
            # non-string keys: let the standard encoder convert and sort them
            yield json.dumps(obj, indent=self.indent, sort_keys=True).replace("\n", "\n" + outer)
            return
        yield "{\n" if t is dict else "[\n"
        first = True
        items = sorted(obj.items()) if t is dict else ((None, v) for v in obj)
        for key, value in items:
            yield inner if first else ",\n" + inner
            first = False
            if t is dict:
                yield encode_basestring_ascii(key) + ": "
            yield from self.chunks(value, level + 1)
        yield "\n" + outer + ("}" if t is dict else "]")

    def dumps(self, obj: Any) -> str:
        """The whole encoding as one string."""
        return "".join(self.chunks(obj))
