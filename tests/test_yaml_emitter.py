"""The fast YAML writer against PyYAML configured as Kapitan configures it, on random documents.

The reference is ``outputs.dump_yaml_reference`` / ``dump_inventory_yaml_reference``:
``yaml.dump(_all)`` with the SafeDumper subclass that indents block sequences,
keys sorted, width 80, non-ASCII escaped, multi-line strings in each style,
``null`` or empty nulls. tests/test_outputs.py pins that reference to bytes
captured from Kapitan itself.

CI runs a bounded, derandomised number of examples (a few seconds). For a
thorough random search run, for example::

    KCOMPILE_FUZZ_EXAMPLES=20000 .venv/bin/python -m pytest -q tests/test_yaml_emitter.py

which draws that many fresh random examples per property (the variable
also scales tests/test_differential.py).
"""

from __future__ import annotations

import datetime
import os

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kapitan_lite import outputs
from kapitan_lite.yaml_emitter import Unsupported

_ON_DEMAND = os.environ.get("KCOMPILE_FUZZ_EXAMPLES")
PROPERTY = settings(
    max_examples=int(_ON_DEMAND) if _ON_DEMAND else 150,
    derandomize=not _ON_DEMAND,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

STYLES = [None, "literal", "folded", "double-quotes"]
INDENTS = [2, 4, 3]

TRICKY = [
    "", " ", "  ", "a", "yes", "Yes", "no", "NO", "on", "Off", "y", "n", "true", "False",
    "null", "Null", "NULL", "~", "0", "1", "-1", "+1", "0123", "0o17", "0x1F", "1_000",
    "1e3", "1E3", "1.5", ".5", "1.", "-.inf", ".inf", ".nan", ".NaN", "1:20", "190:20:30",
    "2020-01-01", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "=", "<<",
    "-", "--", "---", "--- a", "...", "....", "- a", "-a", "? x", "?x", "?", ":", ":x",
    "a:", "a: b", "a:b", "a :b", "http://x.y/z?a=1&b=[2]", "#", "a #b", "a#b", "a# b",
    "'", '"', "'quoted'", "it's", "say \"hi\"", "@x", "`x", "%x", "!x", "&x", "*x", "|",
    ">", "|x", "[a]", "{a}", "a,b", "a, b", "a]b", "\\", "a\\nb", "\t", "a\tb", "\x00",
    "\x07", "\x1b", "\x7f", "\x85", "\xa0", "\u2028", "\u2029", "\ufeff", "\ud800",
    "\U0001f600", "é", "café ✓", "日本語", "line1\nline2", "a\n", "a\n\n", "a\n\n\n", "\n",
    "\n\n", "\na", " a\nb", "a\n b", "a \nb", "a  \nb\n", "a\r\nb", "\r", "a\x85b",
    "a\u2028b", "x" * 100, "word " * 30, ("word " * 30).strip(), "a " * 50 + "b",
    "a  " * 40, ("long line " * 12).strip() + "\n" + "second " * 15 + "\n",
    " lead", "trail ", "  both  ", "a\n\n b \n", "- item\n- item\n", "key: value\n",
]

_ALPHABET = [*"abcdef012 :#-'\"\\\n\t.,[]{}?!*&|>@`%~=<",
             "é", "\x85", "\u2028", "\x00", "\ufeff", "\U0001f600"]


def _wordy(draw_words: list[str], seps: list[str]) -> str:
    out = []
    for i, word in enumerate(draw_words):
        out.append(word)
        if i < len(seps):
            out.append(seps[i])
    return "".join(out)


# Texts that wrap: words separated by one or two spaces, newlines, trailing spaces.
LONG_TEXT = st.builds(
    _wordy,
    st.lists(st.text(alphabet="abcdefghij'\":#-", min_size=1, max_size=14), min_size=2,
             max_size=30),
    st.lists(st.sampled_from([" ", " ", " ", "  ", "\n", " \n", "\n\n", "\n "]), max_size=30),
)

# Texts whose last spaces fall around the wrap column, plain or quoted.
EDGE_TEXT = st.builds(
    lambda head, n, tail: head + "x" * n + tail,
    st.sampled_from(["", "'", "@", " ", "it's ", "a: ", "x " * 10]),
    st.integers(55, 95),
    st.sampled_from([" y", " yy", " y z", "  y", " 'q'", " 'q", " é", " y\nz", " y "]),
)

STRINGS = st.one_of(
    st.sampled_from(TRICKY),
    EDGE_TEXT,
    st.text(alphabet=_ALPHABET, max_size=12),
    st.text(max_size=8),
    LONG_TEXT,
    st.builds(lambda a, b: a + b, st.sampled_from(TRICKY), st.sampled_from(TRICKY)),
)

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-1000, 1000),
    st.integers(-(2**100), 2**100),
    st.floats(), st.sampled_from([1e20, 1e-7, 1e16, -0.0, 0.1, float("inf"), float("-inf"),
                                  float("nan")]),
    STRINGS, STRINGS,
)

# Keys the fast writer writes itself: non-empty, single-line, shorter than 123 characters.
KEYS = st.one_of(
    st.text(alphabet="abcxyz_-./ ", min_size=1, max_size=12),
    st.sampled_from([k for k in TRICKY if k and "\n" not in k and "\x85" not in k
                     and "\u2028" not in k and "\u2029" not in k and len(k) < 123]),
    st.text(alphabet=_ALPHABET, min_size=1, max_size=10).filter(
        lambda k: not any(c in k for c in "\n\x85\u2028\u2029")),
    st.just("k" * 122),
)


def _trees(keys: st.SearchStrategy, scalars: st.SearchStrategy) -> st.SearchStrategy:
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.lists(children, max_size=3).map(tuple),
            st.dictionaries(keys, children, max_size=5),
        ),
        max_leaves=25,
    )


TREES = _trees(KEYS, SCALARS)
MAPPINGS = st.dictionaries(KEYS, TREES, max_size=6)
DOCUMENTS = st.one_of(MAPPINGS, st.lists(TREES, max_size=4), st.lists(TREES, max_size=4).map(tuple))

# What the fast writer hands back to PyYAML: keys it does not write as simple keys,
# other types, objects met twice, scalars at the root.
ODD_KEYS = st.one_of(KEYS, st.sampled_from(["", "a\nb", "k" * 123, "x\u2028"]), st.integers(),
                     st.booleans(), st.none(), st.floats(allow_nan=False))
ODD_SCALARS = st.one_of(SCALARS, st.dates(), st.binary(max_size=6),
                        st.datetimes(max_value=datetime.datetime(2100, 1, 1)))
ODD_TREES = _trees(ODD_KEYS, ODD_SCALARS)
SHARED = st.builds(lambda shared, other: {"a": shared, "b": [shared, other], "c": other},
                   st.one_of(st.dictionaries(KEYS, SCALARS, max_size=3),
                             st.lists(SCALARS, max_size=3)), ODD_TREES)
ODD_DOCUMENTS = st.one_of(SHARED, ODD_TREES, st.dictionaries(ODD_KEYS, ODD_TREES, max_size=5))

# One writer per option set for the whole module: caches carried across documents
# must not change what later documents look like.
_WRITERS: dict[tuple, object] = {}


def _writer(indent, style, null_as_empty):
    key = (indent, style, null_as_empty)
    if key not in _WRITERS:
        _WRITERS[key] = outputs.yaml_writer(indent, style, null_as_empty)
    return _WRITERS[key]


OPTIONS = (st.sampled_from(INDENTS), st.sampled_from(STYLES), st.booleans())


@PROPERTY
@given(MAPPINGS, *OPTIONS)
@example({"k": "a\n\n"}, 2, "literal", False)  # keep-chomped at the end: '...' after it
@example({"k": ["x " * 45, None, {}], "l": [[], {"a": None}]}, 4, "folded", True)
def test_fast_writer_matches_pyyaml(doc, indent, style, null_as_empty):
    expected = outputs.dump_yaml_reference(doc, indent, style, null_as_empty)
    assert _writer(indent, style, null_as_empty).dump(doc) == expected
    assert outputs.dump_yaml(doc, indent, style, null_as_empty) == expected


@PROPERTY
@given(st.lists(st.one_of(MAPPINGS, st.lists(TREES, min_size=1, max_size=3)), max_size=4),
       *OPTIONS)
@example([{"a": "x\n\n"}, {}, [], {"b": 1}], 2, "literal", False)
@example([{"a": 1}, {"b": "x\n\n"}], 2, "folded", True)
def test_fast_writer_matches_pyyaml_multi_document(docs, indent, style, null_as_empty):
    expected = outputs.dump_yaml_reference(docs, indent, style, null_as_empty)
    assert _writer(indent, style, null_as_empty).dump_all(docs) == expected
    assert outputs.dump_yaml(docs, indent, style, null_as_empty) == expected


@PROPERTY
@given(DOCUMENTS)
def test_inventory_yaml_matches_pyyaml(doc):
    if not isinstance(doc, dict):
        doc = {"target": doc}
    assert outputs.dump_inventory_yaml(doc) == outputs.dump_inventory_yaml_reference(doc)


@PROPERTY
@given(ODD_DOCUMENTS, *OPTIONS)
def test_dump_yaml_falls_back_to_pyyaml(doc, indent, style, null_as_empty):
    try:
        expected = outputs.dump_yaml_reference(doc, indent, style, null_as_empty)
    except Exception as exc:  # e.g. keys PyYAML can't sort: the same error either way
        with pytest.raises(type(exc)):
            outputs.dump_yaml(doc, indent, style, null_as_empty)
        return
    assert outputs.dump_yaml(doc, indent, style, null_as_empty) == expected


@pytest.mark.parametrize("doc", [
    {"a": {"x": 1}, "b": None},
    {"": 1},
    {"a\nb": 1},
    {"k" * 123: 1},
    {1: "a"},
    {"d": datetime.date(2020, 1, 2)},
    {"s": {1, 2}},
], ids=["plain", "empty-key", "multiline-key", "long-key", "int-key", "date", "set"])
def test_what_the_fast_writer_hands_back(doc):
    writer = outputs.yaml_writer()
    if doc == {"a": {"x": 1}, "b": None}:
        assert writer.dump(doc) == "a:\n  x: 1\nb: null\n"
        return
    with pytest.raises(Unsupported):
        writer.dump(doc)
    assert outputs.dump_yaml(doc) == outputs.dump_yaml_reference(doc)


def test_shared_object_gets_pyyaml_anchors():
    shared = {"x": [1, 2]}
    doc = {"a": shared, "b": shared}
    with pytest.raises(Unsupported):
        outputs.yaml_writer().dump(doc)
    assert outputs.dump_yaml(doc) == "a: &id001\n  x:\n    - 1\n    - 2\nb: *id001\n"


def test_root_scalar_is_written_by_pyyaml():
    with pytest.raises(Unsupported):
        outputs.yaml_writer().dump("ab")
    assert outputs.dump_yaml("ab") == "ab\n...\n"


@pytest.mark.parametrize("indent", [2, 4])
def test_wrap_column_boundary_sweep(indent):
    # Every start column x every position of a last single space around width 80,
    # plain and single-quoted: the cheap no-wrap check must agree with PyYAML.
    writer = outputs.yaml_writer(indent)
    for head in ("", "'", "it's "):
        for n in range(60, 86):
            for tail in (" y", "  y", " y z"):
                text = head + "x" * n + tail
                doc = {"k" * width: text for width in range(1, 12)}
                doc["nested"] = [text, {"k": text, "l": [text]}]
                assert writer.dump(doc) == outputs.dump_yaml_reference(doc, indent), text


@pytest.mark.parametrize("last", ["plain", "keep\n\n"])
def test_a_document_of_many_chunks_is_pyyamls(last):
    # Far more parts than one chunk holds; a keep-chomped block scalar last ('...' after it).
    doc = {f"k{i:05}": {"name": f"svc-{i}", "tags": [i, "x"]} for i in range(3000)}
    doc["zz"] = last
    chunks = outputs.dump_inventory_yaml_chunks(doc)
    assert len(chunks) > 1
    assert "".join(chunks) == outputs.dump_inventory_yaml_reference(doc)
