"""Golden parity tests: kapitan_lite must compile the golden projects exactly as Kapitan 0.36.3 did.

Each project under tests/golden/projects/<name>/ is a small Kapitan project. Its
output from real Kapitan (``kapitan compile`` run in the project directory) is
committed under tests/golden/expected/<name>/:

* ``compiled/``: the output files, compared byte for byte;
* ``manifest.json``: every file (mode, size, sha256) and every directory of
  the output, including empty directories, which git can't store;
* ``selections.json`` (some projects): runs with ``-t``/``-l``, each with the
  exact set of files and directories produced when compiled/ started empty.

Regenerate them with ``python tests/golden/regen.py`` (see its docstring).

The CLI is run as a real subprocess, ``python -m kapitan_lite [args]`` (the
``kcompile`` console script), with the project copy as the working directory.
With no arguments it compiles every target into ./compiled.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import tool_wrappers

REPO_ROOT = Path(__file__).resolve().parent.parent
GOLDEN_DIR = REPO_ROOT / "tests" / "golden"
PROJECTS_DIR = GOLDEN_DIR / "projects"
EXPECTED_DIR = GOLDEN_DIR / "expected"

IGNORED_NAMES = ("compiled", "__pycache__", ".pytest_cache")
MAX_DIFFS = 3  # unified diffs shown for the first N differing files
MAX_DIFF_LINES = 60
CLI_TIMEOUT = 300


def _projects() -> list[str]:
    if not PROJECTS_DIR.is_dir():
        return []
    return sorted(p.name for p in PROJECTS_DIR.iterdir() if p.is_dir())


def _selections() -> list:
    params = []
    for name in _projects():
        sel_file = EXPECTED_DIR / name / "selections.json"
        if not sel_file.is_file():
            continue
        for sel in json.loads(sel_file.read_text(encoding="utf-8"))["selections"]:
            params.append(pytest.param(name, sel, id=f"{name}:{' '.join(sel['args'])}"))
    return params


# --------------------------------------------------------------------- helpers


def copy_project(name: str, dst: Path) -> Path:
    """Copy a golden project to dst, with modes as a git checkout gives them."""
    src = PROJECTS_DIR / name
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(*IGNORED_NAMES))
    for root, dirs, files in os.walk(dst):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
        for f in files:
            p = os.path.join(root, f)
            mode = stat.S_IMODE(os.lstat(p).st_mode)
            os.chmod(p, 0o755 if mode & stat.S_IXUSR else 0o644)
    return dst


def run_kcompile(cwd: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if path:
        env["PATH"] = f"{path}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env.update({"TZ": "UTC", "PYTHONDONTWRITEBYTECODE": "1"})
    cmd = [sys.executable, "-m", "kapitan_lite", *args]
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT
    )
    if proc.returncode != 0:
        pytest.fail(
            f"`kcompile {' '.join(args)}` exited {proc.returncode} in {cwd}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}",
            pytrace=False,
        )
    return proc


def scan_tree(root: Path) -> dict[str, dict]:
    """path -> entry for every directory and file under root (root excluded)."""
    entries: dict[str, dict] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            p = Path(dirpath, d)
            entries[p.relative_to(root).as_posix()] = {
                "type": "symlink" if p.is_symlink() else "dir"
            }
        for f in filenames:
            p = Path(dirpath, f)
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                entries[rel] = {"type": "symlink"}
                continue
            entries[rel] = {
                "type": "file",
                "mode": f"{stat.S_IMODE(p.stat().st_mode):04o}",
            }
    return entries


def _describe(entry: dict | None) -> str:
    if entry is None:
        return "missing"
    if entry["type"] == "file":
        return f"file mode {entry['mode']}"
    return entry["type"]


def _text_diff(expected: bytes, actual: bytes, rel: str) -> str:
    try:
        exp_text = expected.decode("utf-8")
        act_text = actual.decode("utf-8")
    except UnicodeDecodeError:
        return f"  (binary) expected {len(expected)} bytes, got {len(actual)} bytes\n"
    diff = list(
        difflib.unified_diff(
            exp_text.splitlines(keepends=True),
            act_text.splitlines(keepends=True),
            fromfile=f"expected/{rel}",
            tofile=f"actual/{rel}",
        )
    )
    # make a missing/extra final newline visible
    diff = [
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in diff
    ]
    if not diff:  # same text after splitting: should not happen when bytes differ
        return f"  bytes differ: expected {expected!r}\n  got {actual!r}\n"
    if len(diff) > MAX_DIFF_LINES:
        diff = [*diff[:MAX_DIFF_LINES], f"... ({len(diff) - MAX_DIFF_LINES} more diff lines)\n"]
    return "".join(diff)


def compare_output(compiled: Path, expected_entries: list[dict], golden_compiled: Path) -> None:
    """Fail unless `compiled` holds exactly the expected entries, bytes and file modes."""
    assert compiled.is_dir(), f"no compiled/ directory was produced at {compiled}"
    actual = scan_tree(compiled)
    expected = {e["path"]: e for e in expected_entries}

    problems: list[str] = []
    diffs: list[str] = []
    for rel in sorted(set(expected) | set(actual)):
        exp, act = expected.get(rel), actual.get(rel)
        if exp is None or act is None or exp["type"] != act["type"]:
            problems.append(f"{rel}: expected {_describe(exp)}, got {_describe(act)}")
            continue
        if exp["type"] != "file":
            continue
        if exp["mode"] != act["mode"]:
            problems.append(f"{rel}: mode expected {exp['mode']}, got {act['mode']}")
        actual_bytes = (compiled / rel).read_bytes()
        if hashlib.sha256(actual_bytes).hexdigest() != exp["sha256"]:
            problems.append(f"{rel}: content differs")
            if len(diffs) < MAX_DIFFS:
                golden_file = golden_compiled / rel
                golden_bytes = golden_file.read_bytes()
                diffs.append(_text_diff(golden_bytes, actual_bytes, rel))

    if problems:
        msg = [f"{len(problems)} difference(s) from the Kapitan 0.36.3 golden output:"]
        msg += [f"  {p}" for p in problems]
        if diffs:
            msg.append("")
            msg.append(f"diffs of the first {len(diffs)} differing file(s):")
            msg += diffs
        pytest.fail("\n".join(msg), pytrace=False)


def load_manifest(name: str) -> dict:
    manifest_file = EXPECTED_DIR / name / "manifest.json"
    if not manifest_file.is_file():
        pytest.fail(
            f"no goldens for project {name!r}: run `python tests/golden/regen.py {name}`",
            pytrace=False,
        )
    return json.loads(manifest_file.read_text(encoding="utf-8"))


# ----------------------------------------------------------------------- tests


@pytest.mark.parametrize("name", _projects())
def test_goldens_are_intact(name):
    """The committed golden files match their manifest (guards against git mangling them)."""
    manifest = load_manifest(name)
    golden = EXPECTED_DIR / name / "compiled"
    files = {e["path"]: e for e in manifest["entries"] if e["type"] == "file"}
    on_disk = {p for p, e in scan_tree(golden).items() if e["type"] == "file"}
    assert on_disk == set(files), f"files not matching the manifest: {on_disk ^ set(files)}"
    for rel, e in files.items():
        data = (golden / rel).read_bytes()
        assert hashlib.sha256(data).hexdigest() == e["sha256"], rel


@pytest.mark.parametrize("name", _projects())
def test_golden_parity(name, tmp_path):
    """`kcompile` (no arguments) in the project gives Kapitan's compiled/ tree exactly."""
    if name.endswith("_helm") and not (os.environ.get("KAPITAN_HELM_PATH") or shutil.which("helm")):
        pytest.skip("needs a helm binary (on PATH or $KAPITAN_HELM_PATH; .ci/run installs one)")
    tools = None
    if name.endswith("_kustomize"):
        # As for Kapitan's goldens: kustomize, or a wrapper around kubectl kustomize
        # (tests/test_kustomize_input.py compiles it with kubectl alone too).
        wrapper = tool_wrappers.kustomize_on_path(tmp_path / "bin")
        if wrapper is None:
            pytest.skip("needs kustomize or kubectl on PATH")
        tools = str(wrapper.parent)
    if name.endswith("_cuelang"):
        # Kapitan's goldens were made with this cue (tests/golden/regen.py).
        if tool_wrappers.cue_available():
            pytest.skip(tool_wrappers.cue_available())
        tools = str(tool_wrappers.cue_on_path(tmp_path / "bin").parent)
    manifest = load_manifest(name)
    work = copy_project(name, tmp_path / name)
    run_kcompile(work, path=tools)
    compare_output(work / "compiled", manifest["entries"], EXPECTED_DIR / name / "compiled")


@pytest.mark.parametrize("name,selection", _selections())
def test_target_selection(name, selection, tmp_path):
    """`kcompile -t ...` / `kcompile -l ...` compiles exactly the selected targets."""
    work = copy_project(name, tmp_path / name)
    run_kcompile(work, *selection["args"])
    compiled = work / "compiled"
    assert compiled.is_dir(), "no compiled/ directory was produced"
    # which target directories exist (a dotted target lives in nested dirs)
    produced = sorted(t for t in selection["targets"] if (compiled / t).is_dir())
    assert produced == sorted(selection["targets"]), (
        f"selected targets {selection['targets']} but found {produced}"
    )
    compare_output(compiled, selection["entries"], EXPECTED_DIR / name / "compiled")


def test_selection_goldens_exist():
    """The labels and basics projects carry -l / -t selection goldens."""
    names = {p.values[0] for p in _selections()}
    assert {"labels", "basics"} <= names, names
