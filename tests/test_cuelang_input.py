"""``input_type: cuelang``: Kapitan's ``cue export`` command line, and every error path.

The output of a real cue is pinned by the ``inputs_cuelang`` golden project
(Kapitan and kcompile both running the WebAssembly cue of
tests/tool_wrappers.py). Here a recording stand-in shows what kcompile runs,
where, and with which files, and how each failure is reported.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from conftest import COMMON_CLASS, kcompile, write_tree
from tool_wrappers import cue_available, cue_on_path, read_log, recording_tool

MODULE = {
    "cue/mod/cue.mod/module.cue": 'module: "example.com/mod"\nlanguage: version: "v0.9.0"\n',
    "cue/mod/main.cue": "package main\n\ninput: {n: int}\noutput: {double: input.n * 2}\n",
}
EXPORT = "double: 42\nsecret: ?{base64:x}\n"


def _project(root: Path, targets: dict[str, str]) -> Path:
    files = {"inventory/classes/common.yml": COMMON_CLASS, **MODULE}
    for name, items in targets.items():
        files[f"inventory/targets/{name}.yml"] = (
            "classes: [common]\nparameters:\n  kapitan:\n    compile:\n" + items)
    return write_tree(root, files)


def _cue_stand_in(tmp_path: Path, **kwargs) -> tuple[dict, Path]:
    log = tmp_path / "cue-calls.jsonl"
    recording_tool(tmp_path / "bin/cue", log, **kwargs)
    return {"PATH": str(tmp_path / "bin")}, log


def test_kapitans_command_in_a_copy_of_the_module(tmp_path):
    """``cue export . [-l FILL] input.yaml --out yaml [--expression YIELD]`` in a copy of the
    module holding ``input.yaml``; stdout is the output file, byte for byte."""
    root = _project(tmp_path / "p", {"t": """\
      - input_type: cuelang
        input_paths: [cue/mod]
        output_path: full
        input_fill_path: "input:"
        output_yield_path: output
        output_filename: sub/double.yaml
        input: {n: 21, name: shop}
      - input_type: cuelang
        input_paths: [cue/mod]
        output_path: bare
"""})
    env, log = _cue_stand_in(tmp_path, stdout=EXPORT)
    run = kcompile(cwd=root, env=env)
    assert run.code == 0, run.err
    first, second = read_log(log)
    assert first["argv"] == ["export", ".", "-l", "input:", "input.yaml", "--out", "yaml",
                             "--expression", "output"]
    assert second["argv"] == ["export", ".", "input.yaml", "--out", "yaml"]
    for call in (first, second):
        assert os.path.basename(call["cwd"]) == "mod"
        assert not call["cwd"].startswith(str(root))  # a copy: the source stays clean
        assert call["files"]["main.cue"] == MODULE["cue/mod/main.cue"]
        assert "cue.mod/module.cue" in call["files"]
    assert yaml.safe_load(first["files"]["input.yaml"]) == {"n": 21, "name": "shop"}
    assert second["files"]["input.yaml"] == "null\n...\n"  # no input, as Kapitan writes it
    # cue's stdout as it is: no ref-tag processing, as in Kapitan
    assert (root / "compiled/t/full/sub/double.yaml").read_text() == EXPORT
    assert (root / "compiled/t/bare/output.yaml").read_text() == EXPORT
    assert not (root / "cue/mod/input.yaml").exists()


def test_every_cuelang_problem_at_once(tmp_path):
    """A failing cue, an input that is no directory, an output_filename outside the output:
    one located line each, exit 2, compiled/ untouched."""
    root = _project(tmp_path / "p", {
        "fails": """\
      - input_type: cuelang
        input_paths: [cue/mod]
        output_path: out
""",
        "notdir": """\
      - input_type: cuelang
        input_paths: [cue/mod/main.cue]
        output_path: out
""",
        "escape": """\
      - input_type: cuelang
        input_paths: [cue/mod]
        output_path: out
        output_filename: ../../elsewhere.yaml
"""})
    env, _ = _cue_stand_in(tmp_path, stderr="output.double: conflicting values 1 and 2:\n"
                                            "    ./main.cue:4:9\n", code=1)
    run = kcompile(cwd=root, env=env)
    assert run.code == 2
    assert run.err_lines == [
        "inventory/targets/escape.yml:6: escape: cuelang cue/mod: output_filename "
        "'../../elsewhere.yaml' must be a file name inside output_path",
        "inventory/targets/fails.yml:6: fails: cuelang cue/mod: cue export . input.yaml --out "
        "yaml exited with 1: output.double: conflicting values 1 and 2: | ./main.cue:4:9",
        "inventory/targets/notdir.yml:6: notdir: cuelang cue/mod/main.cue: not a directory",
        "kcompile: 3 problems; compiled/ left unchanged",
    ]
    assert not (root / "compiled").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    run = kcompile("-t", "fails", cwd=root, env={"PATH": str(empty)})
    assert run.code == 2
    assert run.err_lines[0].startswith(
        "inventory/targets/fails.yml:6: fails: cuelang cue/mod: cue binary not found on PATH")


@pytest.mark.skipif(cue_available() is not None, reason=cue_available() or "")
def test_real_cue_error_is_one_located_line(tmp_path):
    """The real cue's error (an input that breaks the module's constraint), on one line."""
    root = _project(tmp_path / "p", {"t": """\
      - input_type: cuelang
        input_paths: [cue/mod]
        output_path: out
        input_fill_path: "input:"
        input: {n: not-a-number}
"""})
    bin_dir = cue_on_path(tmp_path / "bin").parent
    run = kcompile(cwd=root, env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    assert run.code == 2
    (line,) = run.err_lines[:-1]
    assert line.startswith("inventory/targets/t.yml:6: t: cuelang cue/mod: cue export . -l input: "
                           "input.yaml --out yaml exited with 1: ")
    assert "input.n" in line and "conflicting values" in line, line
