"""``.kapitan`` defaults and the output options (-i, -L, --yaml-dump-null-as-empty).

The byte output of each option is checked against Kapitan in the golden
project ``output_opts`` (which sets them through ``.kapitan``); here the same
project is compiled with the options on the command line instead, and the
file's lookup order, validation and version pin are checked.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import REPO, content, kcompile

from kapitan_lite.dotkapitan import version_matches

GOLDEN = REPO / "tests/golden/projects/output_opts"
EXPECTED = REPO / "tests/golden/expected/output_opts/compiled"


@pytest.fixture
def opts_project(tmp_path: Path) -> Path:
    dst = tmp_path / "p"
    shutil.copytree(GOLDEN, dst, ignore=shutil.ignore_patterns("compiled", "__pycache__"))
    return dst


def test_cli_options_give_kapitans_bytes(opts_project):
    (opts_project / ".kapitan").unlink()
    run = kcompile("-i", "4", "-L", "folded", "--yaml-dump-null-as-empty", "-J", ".", "-J",
                   "vendor", cwd=opts_project)
    assert run.code == 0, run.err
    assert content(opts_project / "compiled") == content(EXPECTED)


def test_defaults_without_options(opts_project):
    (opts_project / ".kapitan").unlink()
    run = kcompile("-J", ".", "-J", "vendor", cwd=opts_project)
    assert run.code == 0, run.err
    text = (opts_project / "compiled/folded/yaml/doc.yaml").read_text()
    assert "nothing: null\n" in text
    assert "text: |\n  first line\n" in text
    assert "\n  list:\n    - a: 1\n" in text


def test_command_line_wins_over_dotkapitan(opts_project):
    run = kcompile("-i", "2", "-t", "folded", cwd=opts_project)
    assert run.code == 0, run.err
    text = (opts_project / "compiled/folded/json/doc.json").read_text()
    assert text.startswith('{\n  "nested": {\n    "empty"')


def test_compile_section_wins_over_global(opts_project):
    (opts_project / ".kapitan").write_text(
        "global:\n  indent: 8\n  search-paths: [., vendor]\ncompile:\n  indent: 3\n")
    assert kcompile("-t", "folded", cwd=opts_project).code == 0
    assert (opts_project / "compiled/folded/json/doc.json").read_text().startswith(
        '{\n   "nested"')


def test_version_pin(opts_project):
    dot = opts_project / ".kapitan"
    dot.write_text("compile:\n  search-paths: [., vendor]\nversion: 0.30\n")
    run = kcompile(cwd=opts_project)
    assert run.code == 2
    assert run.err_lines[0] == (".kapitan:3: version 0.30 is pinned, but kcompile reproduces "
                                "Kapitan 0.36.3: update the pin, or pass --ignore-version-check")
    assert not (opts_project / "compiled").exists()
    assert kcompile("--ignore-version-check", cwd=opts_project).code == 0
    dot.write_text("compile:\n  search-paths: [., vendor]\n  ignore-version-check: true\n"
                   "version: 0.30\n")
    assert kcompile(cwd=opts_project).code == 0
    dot.write_text("compile:\n  search-paths: [., vendor]\nversion: '0.36.3'\n")
    assert kcompile(cwd=opts_project).code == 0


def test_bad_values_are_located(opts_project):
    (opts_project / ".kapitan").write_text(
        "compile:\n  indent: four\n  yaml-multiline-string-style: fancy\n")
    run = kcompile(cwd=opts_project)
    assert run.code == 2
    assert run.err_lines[:2] == [".kapitan:2: compile.indent must be an integer",
                                 ".kapitan:3: compile.yaml-multiline-string-style must be "
                                 "literal, folded or double-quotes"]
    (opts_project / ".kapitan").write_text("compile: [\n")
    run = kcompile(cwd=opts_project)
    assert run.code == 2 and run.err_lines[0].startswith(".kapitan:2: invalid YAML")


@pytest.mark.parametrize(("pin", "ok"), [("0.36", True), ("0.36.3", True), ("0", True),
                                         ("0.35", False), ("0.36.2", False), ("1.0", False)])
def test_version_matches(pin, ok):
    assert version_matches(pin) is ok


def test_embed_refs_is_read(opts_project):
    # Kapitan's embed-refs applies (the refs tests check the embedded form itself)
    (opts_project / ".kapitan").write_text("compile:\n  search-paths: [., vendor]\n"
                                           "  embed-refs: true\n")
    assert kcompile(cwd=opts_project).code == 0


@pytest.mark.parametrize("where", ["global", "inventory_backend", "flag"])
def test_omegaconf_backend_is_refused_saying_what_to_do(tmp_path: Path, where: str):
    (tmp_path / "inventory/targets").mkdir(parents=True)
    (tmp_path / "inventory/targets/t.yml").write_text("parameters: {a: 1}\n")
    args: tuple[str, ...] = ()
    if where == "flag":
        args = ("--inventory-backend", "omegaconf")
    else:
        (tmp_path / ".kapitan").write_text(f"# omegaconf\n{where}:\n  inventory-backend: omegaconf\n")
    for command in (("inventory",), ()):
        run = kcompile(*command, *args, cwd=tmp_path)
        assert run.code == 2, run.err
        first = run.err_lines[0]
        where_shown = "--inventory-backend" if where == "flag" else \
            f".kapitan:3: {where}.inventory-backend"
        assert first.startswith(f"{where_shown} omegaconf is not supported"), first
        assert "compile this project with kapitan" in first
        assert "Traceback" not in run.err
    assert not (tmp_path / "compiled").exists()
