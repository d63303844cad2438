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
    assert run.err_lines[0] == "inventory/classes/loop.yml:2: alpha: recursive YAML alias"
