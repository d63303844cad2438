"""Indented JSON, byte-identical to ``json.dumps(obj, indent=N, sort_keys=True)``, faster.

The standard library encodes indented JSON in pure Python. Here every
container whose items are all scalars (most of an inventory) is encoded by
the C encoder, with the item separator carrying the newline and indent;
only containers of containers are walked in Python, appending pieces to one
list (no generator per container), so the caller can write a large
inventory one part at a time.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from typing import Any

_CONTAINERS = (dict, list, tuple)


class IndentedJSON:
    """An encoder for one indent width."""

    def __init__(self, indent: int = 2):
        self.indent = indent
        self._leaf: dict[int, Any] = {}
        self._pad: dict[int, str] = {}

    def _leaf_encode(self, level: int) -> Any:
        enc = self._leaf.get(level)
        if enc is None:
            sep = ",\n" + " " * (self.indent * level)
            enc = self._leaf[level] = json.JSONEncoder(
                sort_keys=True, separators=(sep, ": ")).encode
        return enc

    def _padding(self, level: int) -> str:
        pad = self._pad.get(level)
        if pad is None:
            pad = self._pad[level] = " " * (self.indent * level)
        return pad

    def encode_into(self, obj: Any, level: int, out: list[str]) -> None:
        """Append the encoding of ``obj``, nested ``level`` deep, to ``out``."""
        t = type(obj)
        if t is dict:
            values = obj.values()
        elif t is list or t is tuple:
            values = obj
        else:
            out.append(json.dumps(obj))
            return
        if not obj:
            out.append("{}" if t is dict else "[]")
            return
        inner = self._padding(level + 1)
        outer = self._padding(level)
        for v in values:
            if type(v) in _CONTAINERS:
                break
        else:
            text = self._leaf_encode(level + 1)(obj)
            out.append(text[0] + "\n" + inner + text[1:-1] + "\n" + outer + text[-1])
            return
        if t is dict:
            for k in obj:
                if type(k) is not str:
                    # non-string keys: let the standard encoder convert and sort them
                    out.append(json.dumps(obj, indent=self.indent, sort_keys=True)
                               .replace("\n", "\n" + outer))
                    return
            sep = "{\n" + inner
            for key in sorted(obj):
                out.append(sep + encode_basestring_ascii(key) + ": ")
                sep = ",\n" + inner
                self.encode_into(obj[key], level + 1, out)
            out.append("\n" + outer + "}")
        else:
            sep = "[\n" + inner
            for value in obj:
                out.append(sep)
                sep = ",\n" + inner
                self.encode_into(value, level + 1, out)
            out.append("\n" + outer + "]")

    def dumps(self, obj: Any, level: int = 0) -> str:
        """The encoding of ``obj`` (nested ``level`` deep) as one string."""
        out: list[str] = []
        self.encode_into(obj, level, out)
        return "".join(out)
