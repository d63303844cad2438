"""The fast indented JSON encoder writes exactly what json.dumps(indent, sort_keys) writes."""

import json

import pytest

from kapitan_lite.json_indent import IndentedJSON

SAMPLES = [
    {}, [], 1, "x", None, {"a": 1}, [1, "two", None, 3.5, True],
    {"b": {"z": [1, {"k": "v"}], "a": {}}, "a": [[], {}, [1, 2]], "é": "ü\n\"q\""},
    {"n": {2: "int key", 1: "k"}, "m": {2.5: [1], 1: {}}}, [{"x": [1e300, -0.0, 10**20]}],
    {"t": (1, (2, {"u": ()})), "deep": {"a": {"b": {"c": [{"d": [[{}]]}]}}}},
]


@pytest.mark.parametrize("obj", SAMPLES)
@pytest.mark.parametrize("indent", [2, 4])
def test_same_bytes_as_json_dumps(obj, indent):
    assert IndentedJSON(indent).dumps(obj) == json.dumps(obj, indent=indent, sort_keys=True)
