"""Bounded input: YAML alias expansion stops at the alias limit, as a located error."""

import pytest
from conftest import kcompile, simple_project, snapshot, write_tree


def _bomb(levels: int = 10, width: int = 9) -> str:
    """Ten nested anchors of nine: billions of nodes once expanded."""
    lines = ["parameters:", "  bomb:", "    l0: &l0 [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"    l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("backend", ["kapitan-lite", "reclass", "reclass-rs"])
def test_alias_bomb_is_a_located_error_and_ends_fast(tmp_path, backend):
    root = simple_project(tmp_path / "proj")
    assert kcompile(cwd=root).code == 0
    before = snapshot(root / "compiled")
    write_tree(root, {"inventory/classes/bomb.yml": _bomb(),
                      "inventory/targets/alpha.yml": "classes: [common, bomb]\n"
                                                     "parameters:\n  replicas: 1\n"})
    # Without the limit this never ends: the timeout turns a hang into a failure.
    run = kcompile("--backend", backend, "-t", "alpha", cwd=root, timeout=60)
    assert run.code == 2, run.err
    assert run.err_lines[0].startswith(
        "inventory/classes/bomb.yml:8: alpha: YAML aliases expand to more than 100000 nodes"), run.err
    assert snapshot(root / "compiled") == before


def test_alias_limit_is_configurable(tmp_path):
    root = simple_project(tmp_path / "proj", extra={
        "inventory/classes/defaults.yml": "parameters:\n  base: &base {a: 1, b: 2, c: 3}\n"
                                          "  one: *base\n  two: *base\n"})
    write_tree(root, {"inventory/targets/alpha.yml": "classes: [common, defaults]\n"
                                                     "parameters:\n  replicas: 1\n"})
    assert kcompile("inventory", "-t", "alpha", cwd=root).code == 0  # well below the default
    run = kcompile("inventory", "-t", "alpha", cwd=root, env={"KCOMPILE_YAML_ALIAS_LIMIT": "10"})
    assert run.code == 2
    assert run.err_lines[0] == (
        "inventory/classes/defaults.yml:4: alpha: YAML aliases expand to more than 10 nodes "
        "(the alias limit; set KCOMPILE_YAML_ALIAS_LIMIT to raise it)")


def test_recursive_alias_is_a_located_error(tmp_path):
    root = simple_project(tmp_path / "proj", extra={
        "inventory/classes/loop.yml": "parameters:\n  a: &a\n    - x\n    - *a\n"})
    write_tree(root, {"inventory/targets/alpha.yml": "classes: [common, loop]\n"
                                                     "parameters:\n  replicas: 1\n"})
    run = kcompile("inventory", "-t", "alpha", cwd=root, timeout=60)
    assert run.code == 2, run.err
    assert run.err_lines[0] == "inventory/classes/loop.yml:4: alpha: recursive YAML alias"


TRICKY = [
    "a: yes\nb: No\nc: on\nd: OFF\ne: ~\nf: null\ng: ''\nh:\n",
    "i: 012\nj: 0o12\nk: 0x1f\nl: 1_000\nm: 1:30\nn: .inf\no: -.Inf\np: .nan\nq: 44945e09\n",
    "r: 2020-01-01\ns: 2001-12-14t21:59:43.10-05:00\nt: !!str 123\nu: !!int '7'\nv: !!binary aGk=\n",
    "w: |\n  two\n  lines\nx: >\n  folded\n  text\ny: 'it''s'\nz: \"\\u00e9\\n\"\n",
    "dup: 1\nother: 2\ndup: 3\n1: int key\ntrue: bool key\n~: null key\n3.5: float key\n",
    "base: &b {x: 1, y: [1, 2]}\none: *b\ntwo: *b\nlist: &l [a, b]\nagain: *l\ns: &s text\nt: *s\n",
    "merged:\n  <<: {a: 1, b: 2}\n  b: 3\nvalue_key:\n  =: x\n",
    "flow: {a: [1, {b: c}], 'q k': \"v\"}\nseq:\n- - nested\n  - list\n- {}\n- []\n",
    "",
    "# only a comment\n",
    "--- just a scalar\n",
    "- top\n- level\n- list\n",
]


@pytest.mark.parametrize("text", TRICKY)
def test_streaming_loader_builds_what_pyyaml_builds(text):
    import yaml

    from kapitan_lite.yamlload import SafeLoader, load_yaml

    expected = yaml.load(text, Loader=SafeLoader)
    got = load_yaml(text.encode())
    assert repr(got) == repr(expected)  # types and key order too, not only ==


def test_streaming_loader_matches_pyyaml_on_the_example_fleet():
    import yaml
    from conftest import REPO

    from kapitan_lite.yamlload import SafeLoader, load_yaml

    files = sorted((REPO / "inventory").rglob("*.yml")) + sorted((REPO / "refs").rglob("*"))
    assert len(files) > 10
    for path in files:
        if path.is_file():
            data = path.read_bytes()
            assert repr(load_yaml(data)) == repr(yaml.load(data, Loader=SafeLoader)), path


def test_mapping_keys_are_shared_strings():
    from kapitan_lite.yamlload import load_yaml

    data = load_yaml(b"- {name: a, port: 1}\n- {name: b, port: 2}\n")
    first, second = (list(d) for d in data)
    assert all(k1 is k2 for k1, k2 in zip(first, second, strict=True))
