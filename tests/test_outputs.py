"""Serialisers against output captured from Kapitan 0.36.3 (tests/data/kapitan_dumps.json)."""

import json
import os
import sys

import pytest

from kapitan_lite import outputs

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "data"))
import dump_cases as c

with open(os.path.join(os.path.dirname(__file__), "data", "kapitan_dumps.json")) as _fp:
    KAPITAN = json.load(_fp)


@pytest.mark.parametrize("style", c.STYLES)
@pytest.mark.parametrize("case", sorted(c.CASES))
def test_yaml_matches_kapitan(style, case):
    assert outputs.dump_yaml(c.CASES[case], style=style) == KAPITAN[f"{style}/{case}"]


def test_yaml_list_is_one_document_per_item():
    assert outputs.dump_yaml(c.LIST_DOCS) == KAPITAN["literal/list_docs"]
    assert outputs.dump_yaml(c.LIST_DOCS) == "a: 1\n---\nb:\n  - 1\n  - 2\n"


def test_yaml_indent_option():
    assert outputs.dump_yaml(c.INDENT4, indent=4) == KAPITAN["literal/indent4"]


def test_yaml_null_as_empty():
    assert outputs.dump_yaml(c.NULLS, null_as_empty=True) == KAPITAN["literal/null_empty"]
    assert outputs.dump_yaml(c.NULLS) == "l:\n  - null\nn: null\n"


def test_yaml_top_level_string_is_one_document():
    # Kapitan writes "a\n---\nb\n..." (one document per character); we don't.
    assert outputs.dump_yaml("ab") == "ab\n...\n"


def test_json_matches_kapitan_without_trailing_newline():
    text = outputs.dump_json(c.JSON)
    assert text == KAPITAN["json"]
    assert not text.endswith("\n")
    assert "\\u00e9" in text


def test_toml_matches_kapitan():
    assert outputs.dump_toml(c.TOML) == KAPITAN["toml"]


def test_inventory_yaml_uses_default_string_style():
    assert outputs.dump_inventory_yaml(c.INVENTORY) == KAPITAN["inventory"]


def test_plain_requires_string():
    assert outputs.dump_plain("x\n") == "x\n"
    with pytest.raises(TypeError):
        outputs.dump_plain({"a": 1})


@pytest.mark.parametrize("kind", ["yml", "yaml", "json"])
def test_serialise_sorts_yaml_and_json_keys(kind):
    text = outputs.serialise({"b": 1, "a": 2}, kind)
    assert text.index("a") < text.index("b")


def test_serialise_toml_keeps_order_as_kapitan_does():
    assert outputs.serialise({"b": 1, "a": 2}, "toml") == "b = 1\na = 2\n"


def test_serialise_unknown_type():
    with pytest.raises(ValueError):
        outputs.serialise({}, "xml")
