"""Serialiser cases shared by the golden generator and tests/test_outputs.py."""

CASES = {
    "nested": {"b": {"z": 1, "a": [1, {"k": "v", "a": None}]}, "a": "x", "list": [], "d": {}},
    "strings": {"yes": "yes", "zero": "0123", "date": "2020-01-01", "one": "1", "star": "*x",
                "tilde": "~", "empty": "", "exp": "1e3", "colon": "a: b", "hash": "# c",
                "true": "true", "null": "null", "float": "1.5", "space": " lead",
                "uni": "caf\u00e9 \u2713"},
    "multiline": {"lit": "line1\nline2\n", "strip": "line1\nline2", "trail": "a  \nb\n",
                  "keep": "a\n\n"},
    "long": {"text": "word " * 30 + "end", "url": "https://example.com/" + "x" * 100},
    "types": {"int": 5, "float": 1.25, "bool": True, "none": None,
              "big": 12345678901234567890, "neg": -3},
}
STYLES = ("literal", "folded", "double-quotes")
LIST_DOCS = [{"a": 1}, {"b": [1, 2]}]
INDENT4 = {"a": {"b": [1, {"c": 2}]}}
NULLS = {"n": None, "l": [None]}
JSON = {"b": [1, {"z": "\u00e9", "a": None}], "a": True}
TOML = {"title": "x", "list": [1, 2], "table": {"k": "v", "n": {"m": 1}}, "a": 1.5}
INVENTORY = {"t": {"parameters": {"s": "a\nb\n", "l": [1, 2]}}}
