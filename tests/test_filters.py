"""Kapitan's Jinja2 filters and custom filter files."""

import datetime

import pytest

from kapitan_lite.inputs import jinja2_filters as f


def test_digests_and_base64():
    assert f.sha256("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert f.b64encode("héllo") == "aMOpbGxv"
    assert f.b64decode("aMOpbGxv") == "héllo"


def test_yaml_and_toml():
    assert f.to_yaml({"b": [1, 2], "a": "x"}) == "a: x\nb:\n- 1\n- 2\n"
    assert f.to_toml({"a": 1}) == "a = 1\n"


@pytest.mark.parametrize(("value", "expected"), [
    ("yes", True), ("On", True), ("1", True), ("TRUE", True), (1, True),
    ("no", False), ("0", False), (0, False), (None, None), (False, False),
])
def test_bool(value, expected):
    assert f.to_bool(value) is expected


def test_regex_filters():
    assert f.regex_replace("v1.2", r"^v", "") == "1.2"
    assert f.regex_replace("ABC", "b", "x", ignorecase=True) == "AxC"
    assert f.regex_escape("a.b") == "a\\.b"
    assert f.regex_search("key=val", r"(\w+)=(?P<v>\w+)", "\\1", "\\g<v>") == ["key", "val"]
    assert f.regex_search("key=val", r"=\w+") == "=val"
    assert f.regex_search("x", "y") is None
    assert f.regex_findall("a1b22", r"\d+") == ["1", "22"]
    with pytest.raises(ValueError):
        f.regex_search("x", "x", "bad")


def test_ternary_and_shuffle():
    assert f.ternary(True, "y", "n") == "y"
    assert f.ternary(None, "y", "n", "none") == "none"
    assert f.ternary(0, "y", "n") == "n"
    assert f.shuffle([1, 2, 3, 4, 5], seed=7) == f.shuffle([1, 2, 3, 4, 5], seed=7)
    assert sorted(f.shuffle([3, 1, 2])) == [1, 2, 3]


def test_merge_strategic():
    data = {"c": [{"name": "a", "x": 1}, {"name": "b"}, {"name": "a", "y": 2}]}
    assert f.merge_strategic(data) == {"c": [{"name": "a", "x": 1, "y": 2}, {"name": "b"}]}
    assert f.merge_strategic([1, {"name": "a"}]) == [1, {"name": "a"}]


def test_dates():
    assert f.to_datetime("2024-01-02 03:04:05") == datetime.datetime(2024, 1, 2, 3, 4, 5)
    assert f.strftime("%Y", 0) in ("1970", "1969")
    with pytest.raises(ValueError):
        f.strftime("%Y", "soon")


def test_fileglob(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text("")
    (tmp_path / "d.txt").mkdir()
    monkeypatch.chdir(tmp_path)
    assert f.fileglob("*.txt") == ["a.txt"]


def test_every_kapitan_filter_is_registered():
    names = set(f.kapitan_filters(lambda t: t))
    assert names == {"sha256", "b64encode", "b64decode", "yaml", "toml", "fileglob", "bool",
                     "to_datetime", "strftime", "regex_replace", "regex_escape", "regex_search",
                     "regex_findall", "reveal_maybe", "ternary", "shuffle", "merge_strategic"}


def test_custom_filter_file(tmp_path):
    path = tmp_path / "jinja2_filters.py"
    path.write_text("import os\n\ndef shout(s):\n    return s.upper()\n\n_x = 1\n")
    assert set(f.load_filter_file(str(path))) == {"shout"}


def test_suffix_is_stripped_once_not_as_a_character_set():
    from kapitan_lite.inputs.jinja2 import strip_suffix

    assert strip_suffix("obj.j2", ".j2") == "obj"  # Kapitan's rstrip gives "ob"
    assert strip_suffix("app.yaml.j2", ".j2") == "app.yaml"
    assert strip_suffix("app.yaml", ".j2") == "app.yaml"
    assert strip_suffix("x.j2", "") == "x.j2"
