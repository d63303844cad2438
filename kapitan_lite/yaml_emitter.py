"""A fast YAML writer with exactly the bytes of PyYAML's ``yaml.dump`` under Kapitan's dumper.

PyYAML's pure-Python pipeline (representer -> nodes -> serializer -> events ->
emitter state machine) spends most of its time on bookkeeping: a node and an
event per value, a per-character scalar analysis, a resolver pass per scalar
and per key. :class:`YamlWriter` walks the data once and writes the block
layout of a ``SafeDumper`` whose ``increase_indent`` never makes sequences
indentless (Kapitan's ``PrettyDumper``), called with ``default_flow_style=False``
and ``sort_keys=True``:

* mappings and sequences are in block style, keys sorted, sequences indented
  under their key; empty ones are written ``{}`` / ``[]``;
* ``int``/``bool``/``None``/``float`` are written as the SafeRepresenter
  writes them; they are always plain scalars;
* a string is plain or single-quoted when a cheap check proves PyYAML would
  choose that style and the line can't reach the wrap column; every other
  string (multi-line, non-ASCII, control characters, long enough to wrap) is
  written by PyYAML's own ``Emitter`` scalar code (``process_tag`` and
  ``process_scalar``) on a dumper instance put into the exact state (column,
  indent, context) the full pipeline would have at that point, so style
  choice, escaping and wrapping at width 80 are PyYAML's.

Tuples are sequences, as for the SafeRepresenter. Anything else raises
:class:`Unsupported` and the caller uses PyYAML itself: other types (and
subclasses of these), non-``str`` keys, keys PyYAML would not write as simple
keys (empty, multi-line, 123+ characters), an object met twice in one
document (PyYAML writes an anchor and an alias), and a scalar at the root of
a document.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import yaml
from yaml.events import ScalarEvent
from yaml.nodes import ScalarNode

_STR_TAG = "tag:yaml.org,2002:str"

# Single-line printable ASCII, spaces allowed.
_ASCII_LINE = re.compile(r"[ -~]*")

# Strings whose scalar analysis (Emitter.analyze_scalar) certainly allows a block
# plain scalar: printable ASCII; a first character that is no indicator ('-' only
# before a non-space, and neither '---' nor '...' at the start); no ': ', no
# trailing ':', no ' #'; no leading or trailing space.
_FIRST = r"(?:[A-Za-z0-9_/]|-(?!--)(?=[!-~])|\.(?!\.\.))"
_REST = r"(?:[!-9;-~]|:(?=[!-~]))*"
_PLAIN = re.compile(_FIRST + _REST + r"(?: +(?:[!-\"$-9;-~]|:(?=[!-~]))" + _REST + r")*")

# Multi-line texts whose analysis is simple: printable ASCII and line feeds.
_BLOCK_TEXT = re.compile(r"[ -~\n]*")

# Simple keys: PyYAML adds the length of the prepared tag ('!!str') to the key's
# length and writes a complex key ('? ...') from 128 on.
_MAX_SIMPLE_KEY = 128 - len("!!str")

_PLAIN_KIND, _QUOTED_KIND, _OTHER_KIND = 0, 1, 2


# Entries of each memo: what repeats (keys, a fleet's shared values) stays
# cached; a document of millions of distinct strings doesn't keep them all.
_MEMO_SIZE = 1 << 16
_CHUNK_PARTS = 4096  # parts joined into one piece of output text


class Unsupported(Exception):
    """The document has something the fast writer does not write; use PyYAML."""


class _Sink:
    """A write-only stream that collects what the scalar emitter writes."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.write = self.parts.append

    def take(self) -> str:
        text = "".join(self.parts)
        self.parts.clear()
        return text


class YamlWriter:
    """Writes documents as ``yaml.dump(doc, Dumper=dumper, indent=indent, default_flow_style=False)``.

    ``dumper`` is the SafeDumper subclass the output must match (its scalar
    writer and resolver are reused); ``multiline_style`` is the style its
    string representer gives a string containing a newline (``None``: none);
    ``null`` is the text its null representer writes (``"null"`` or ``""``).
    One writer serves one run of documents; it remembers how strings were
    classified, so it is cheapest to reuse it for many documents.
    """

    def __init__(self, dumper: type[yaml.SafeDumper], indent: int | None = None,
                 multiline_style: str | None = None, null: str = "null"):
        self._sink = _Sink()
        self._emitter = dumper(self._sink, indent=indent, default_flow_style=False)
        self._emitter.tag_prefixes = dict(self._emitter.DEFAULT_TAG_PREFIXES)
        self._step = self._emitter.best_indent
        # Implicit resolvers are looked up by first character (Resolver.resolve);
        # a text starting with another character is a string. None: there are
        # wildcard resolvers, every text needs the full resolve.
        resolvers = self._emitter.yaml_implicit_resolvers
        self._resolver_firsts = None if None in resolvers else frozenset(resolvers)
        self._width = self._emitter.best_width
        self._multiline_style = multiline_style
        self._null = null
        self._kinds: dict[str, int] = {}
        self._keys: dict[str, str] = {}
        self._written: dict[tuple[str, int, int, bool], tuple[str, bool, bool]] = {}
        self._out: list[str] = []
        self._seen: set[int] = set()
        self._open_at = -1  # parts written just after a scalar that left the stream open-ended
        self._chunks: list[str] = []  # the text so far, joined from parts
        self._flushed = 0  # parts joined into chunks

    # Documents.

    def dump(self, doc: Any) -> str:
        """One document, as ``yaml.dump``."""
        return self.dump_all((doc,))

    def dump_all(self, docs: Iterable[Any]) -> str:
        """Documents separated by ``---``, as ``yaml.dump_all``."""
        return "".join(self.dump_chunks(docs))

    def dump_chunks(self, docs: Iterable[Any]) -> list[str]:
        """:meth:`dump_all`'s text in pieces: a huge document never exists as one string."""
        out = self._out
        out.clear()
        self._chunks = []
        self._flushed = 0
        open_ended = False
        for number, doc in enumerate(docs):
            self._seen.clear()
            self._open_at = -1
            if number:
                out.append("---")
            kind = type(doc)
            if kind is not dict and kind is not list and kind is not tuple:
                raise Unsupported(f"document root is a {kind.__name__}")
            if not doc:
                # Flow style; after '---' it stays on that line.
                out.append((" " if number else "") + ("{}" if kind is dict else "[]"))
                eol = False
            elif kind is dict:
                eol = self._mapping(doc, 0, "\n" if number else "")
            else:
                eol = self._sequence(doc, 0, "\n" if number else "")
            # PyYAML ends a stream with '...' when its last scalar is a keep-chomped
            # block scalar ('|+', '>+') that no indicator followed.
            open_ended = self._open_at == self._flushed + len(out)
            if not eol:
                out.append("\n")
        if open_ended:
            out.append("...\n")
        self._flush()
        chunks, self._chunks = self._chunks, []
        return chunks

    def _flush(self) -> None:
        # Millions of small parts cost several times the text they make.
        out = self._out
        self._chunks.append("".join(out))
        self._flushed += len(out)
        out.clear()

    # Collections. Each returns whether the output now ends with a line break
    # (a block scalar ends its own last line).

    def _mark(self, obj: Any) -> None:
        # PyYAML gives an object met twice in a document an anchor and an alias.
        if id(obj) in self._seen:
            raise Unsupported("an object appears twice (PyYAML writes an alias)")
        self._seen.add(id(obj))

    def _mapping(self, mapping: dict, indent: int, lead: str) -> bool:
        """A non-empty block mapping at ``indent``; ``lead`` goes before its first key."""
        self._mark(mapping)
        out = self._out
        keys = self._keys
        value = self._value
        pad = " " * indent
        newline_pad = "\n" + pad
        # A collection value starts on the next line.
        child_lead = "\n" + " " * (indent + self._step)
        try:
            ordered = sorted(mapping)
        except TypeError as exc:
            raise Unsupported("keys of mixed types") from exc
        eol = False
        for key in ordered:
            text = keys.get(key)
            if text is None:
                text = self._key(key)
            out.append(lead + text + ":")
            eol = value(mapping[key], indent, indent + len(text) + 1, child_lead, False)
            lead = pad if eol else newline_pad
            if len(out) >= _CHUNK_PARTS:
                self._flush()
        return eol

    def _sequence(self, seq: list | tuple, indent: int, lead: str) -> bool:
        """A non-empty block sequence at ``indent``; ``lead`` goes before its first ``-``."""
        self._mark(seq)
        out = self._out
        value = self._value
        pad = " " * indent
        newline_pad = "\n" + pad
        # A collection item starts on the dash's line, at the nested indent.
        child_lead = " " * (self._step - 1)
        eol = False
        for item in seq:
            out.append(lead + "-")
            eol = value(item, indent, indent + 1, child_lead, True)
            lead = pad if eol else newline_pad
            if len(out) >= _CHUNK_PARTS:
                self._flush()
        return eol

    def _value(self, value: Any, indent: int, column: int, child_lead: str,
               after_dash: bool) -> bool:
        """A value or item of the collection at ``indent``, written after ``:`` or ``-``.

        ``column`` is where that indicator ends; ``child_lead`` goes before the
        first entry of a non-empty collection value.
        """
        kind = type(value)
        if kind is str:
            return self._string(value, indent, column, after_dash)
        if kind is dict:
            if value:
                return self._mapping(value, indent + self._step, child_lead)
            self._mark(value)
            self._out.append(" {}")
            return False
        if kind is list or kind is tuple:
            if value:
                return self._sequence(value, indent + self._step, child_lead)
            if kind is list:  # PyYAML never aliases the empty tuple
                self._mark(value)
            self._out.append(" []")
            return False
        if kind is bool:
            self._out.append(" true" if value else " false")
            return False
        if kind is int:
            self._out.append(" " + str(value))
            return False
        if value is None:
            # An empty plain scalar writes nothing, not even the separating space.
            self._out.append(" " + self._null if self._null else "")
            return False
        if kind is float:
            self._out.append(" " + self._emitter.represent_float(value).value)
            return False
        raise Unsupported(f"a {kind.__name__} value")

    # Scalars.

    def _kind(self, text: str) -> int:
        """How PyYAML writes ``text`` when it has no explicit style: plain, single-quoted, other."""
        kind = self._kinds.get(text)
        if kind is None:
            if len(self._kinds) >= _MEMO_SIZE:
                self._kinds.clear()  # memory stays bounded on a huge document
            # Printable single-line ASCII always allows single quotes; plain if the
            # analysis allows it and the resolver reads it back as a string.
            if _PLAIN.fullmatch(text):
                kind = _PLAIN_KIND if self._is_str(text) else _QUOTED_KIND
            elif _ASCII_LINE.fullmatch(text):
                plain = self._emitter.analyze_scalar(text).allow_block_plain
                kind = _PLAIN_KIND if plain and self._is_str(text) else _QUOTED_KIND
            else:
                kind = _OTHER_KIND
            self._kinds[text] = kind
        return kind

    def _is_str(self, text: str) -> bool:
        """Whether the resolver reads ``text`` back as a string when written plain."""
        firsts = self._resolver_firsts
        if firsts is not None and text and text[0] not in firsts:
            return True
        return self._emitter.resolve(ScalarNode, text, (True, False)) == _STR_TAG

    def _key(self, key: Any) -> str:
        """A simple key as written; keys don't wrap, so the text doesn't depend on the column."""
        if type(key) is not str:
            raise Unsupported(f"a {type(key).__name__} key")
        if not key or len(key) >= _MAX_SIMPLE_KEY or "\n" in key or \
                "\x85" in key or "\u2028" in key or "\u2029" in key:
            raise Unsupported("a key PyYAML writes as a complex key")
        kind = self._kind(key)
        if kind == _PLAIN_KIND:
            text = key
        elif kind == _QUOTED_KIND:
            text = "'" + key.replace("'", "''") + "'"
        else:
            # A simple key never wraps, so the column and indent don't matter;
            # it follows the indentation (whitespace).
            text, _column = self._emit(key, None, None, indent=0, column=0, whitespace=True,
                                       indention=True, simple_key=True)
        if len(self._keys) >= _MEMO_SIZE:
            self._keys.clear()
        self._keys[key] = text
        return text

    def _string(self, text: str, indent: int, column: int, after_dash: bool) -> bool:
        kind = self._kind(text)
        # A plain or single-quoted scalar wraps at a single space past the width.
        if kind == _PLAIN_KIND:
            if column + len(text) <= self._width or " " not in text:
                self._out.append(" " + text)
                return False
        elif kind == _QUOTED_KIND:
            quoted = text.replace("'", "''")
            if column + len(quoted) + 2 <= self._width or " " not in text:
                self._out.append(" '" + quoted + "'")
                return False
        # The same long string tends to come back at the same place (every target
        # of a cluster repeats its configuration): write it once per position.
        place = (text, indent, column, after_dash)
        done = self._written.get(place)
        if done is None:
            style = self._multiline_style if "\n" in text else None
            # Emitter.choose_scalar_style keeps an explicit '"'; it keeps '|' or '>'
            # when the analysis allows a block scalar, which for printable ASCII
            # and line feeds means no space at the end of the text or of a line.
            # Otherwise PyYAML analyses the text and chooses.
            block_ok = style in ("|", ">") and _BLOCK_TEXT.fullmatch(text) is not None \
                and text[-1] != " " and " \n" not in text
            chosen = style if style == '"' or block_ok else None
            # The scalar's own indent (for wrapped and block lines) is one step in.
            if chosen == "|":
                done = self._literal(text, indent + self._step)
            else:
                written, end_column = self._emit(text, style, chosen, indent + self._step,
                                                 column, whitespace=False,
                                                 indention=after_dash, simple_key=False)
                done = (written, end_column == 0, self._emitter.open_ended)
            if len(self._written) >= _MEMO_SIZE:
                self._written.clear()
            self._written[place] = done
        written, eol, open_ended = done
        self._out.append(written)
        if open_ended:
            self._open_at = self._flushed + len(self._out)
        return eol

    def _literal(self, text: str, indent: int) -> tuple[str, bool, bool]:
        """A multi-line string the analysis allows as a literal block (Emitter.write_literal).

        Printable ASCII lines, no trailing space on the text or on a line:
        the header with PyYAML's chomping/indentation hints, then each line at
        ``indent``, empty lines bare. Returns the text, that it ends its line,
        and whether it leaves the stream open-ended ('|+').
        """
        hints = self._emitter.determine_block_hints(text)
        pad = " " * indent
        body = text[:-1] if text[-1] == "\n" else text
        lines = "".join(pad + line + "\n" if line else "\n" for line in body.split("\n"))
        return " |" + hints + "\n" + lines, True, hints[-1:] == "+"

    def _emit(self, text: str, style: str | None, chosen: str | None, indent: int,
              column: int, whitespace: bool, indention: bool,
              simple_key: bool) -> tuple[str, int]:
        """Write one string scalar with PyYAML's emitter, in the state the pipeline has there.

        ``style`` is the representer's style for the text; ``chosen`` the
        style the emitter will choose when already known (``'"'`` or ``'>'``;
        no tag is written for them), else ``None`` for the emitter's own
        analysis, choice and tag. ``whitespace``/``indention`` describe the
        last character written, as the emitter tracks them. Returns the text
        and the column it ends at.
        """
        emitter = self._emitter
        emitter.indent = indent
        emitter.column = column
        emitter.whitespace = whitespace
        emitter.indention = indention
        emitter.flow_level = 0
        emitter.root_context = False
        emitter.simple_key_context = simple_key
        emitter.open_ended = False
        if chosen == '"':
            emitter.write_double_quoted(text, not simple_key)
        elif chosen == ">":
            emitter.write_folded(text)
        else:
            emitter.event = ScalarEvent(None, _STR_TAG, (self._is_str(text), True), text,
                                        style=style)
            emitter.analysis = None
            emitter.style = None
            emitter.process_tag()
            emitter.process_scalar()
            emitter.event = None
        return self._sink.take(), emitter.column
