"""``kcompile init``: a starter project that compiles, checks green, and never overwrites."""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from pathlib import Path

import pytest
from refs_support import KAPITAN, KAPITAN_MISSING

from kapitan_lite.scaffold import FILES

REPO = Path(__file__).resolve().parent.parent


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "kapitan_lite", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_init_in_an_empty_dir_compiles_and_checks(tmp_path: Path) -> None:
    got = _run(tmp_path, "init", "proj")
    assert got.returncode == 0, got.stderr
    proj = tmp_path / "proj"
    assert sorted(p.relative_to(proj).as_posix() for p in proj.rglob("*") if p.is_file()) \
        == sorted(FILES)
    assert f"{len(FILES)} created, 0 skipped" in got.stderr
    compiled = _run(proj, "compile")
    assert compiled.returncode == 0, compiled.stderr
    manifests = proj / "compiled/dev/manifests"
    assert sorted(os.listdir(manifests)) == ["configmap.yml", "deployment.yml"]
    assert "replicas: 2" in (manifests / "deployment.yml").read_text()  # the target's own value
    assert 'message: "Hello from dev"' in (manifests / "configmap.yml").read_text()
    check = _run(proj, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    # The project is Kapitan's layout: kapitan 0.36.3 compiles it to the same bytes.
    if KAPITAN_MISSING:
        pytest.skip(f"compiled and checked; the comparison with Kapitan needs it: {KAPITAN_MISSING}")
    kap = tmp_path / "kap"
    _run(tmp_path, "init", "kap")
    subprocess.run([str(KAPITAN), "compile"], cwd=kap, check=True, capture_output=True,
                   timeout=300, env={**os.environ, "PYTHONPATH": ""})
    cmp = filecmp.dircmp(kap / "compiled", proj / "compiled")
    assert not (cmp.left_only or cmp.right_only or cmp.diff_files)
    sub = filecmp.dircmp(kap / "compiled/dev/manifests", manifests)
    assert sub.same_files == ["configmap.yml", "deployment.yml"]


def test_init_never_overwrites_and_says_what_it_skipped(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("mine\n")
    (tmp_path / "inventory/targets").mkdir(parents=True)
    (tmp_path / "inventory/targets/dev.yml").write_text(
        "classes:\n  - common\nparameters:\n  hello:\n    replicas: 5\n")
    got = _run(tmp_path, "init")
    assert got.returncode == 0, got.stderr
    assert "skipped ./README.md (exists, left unchanged)" in got.stderr
    assert "skipped ./inventory/targets/dev.yml (exists, left unchanged)" in got.stderr
    assert f"{len(FILES) - 2} created, 2 skipped" in got.stderr
    assert (tmp_path / "README.md").read_text() == "mine\n"
    assert (tmp_path / ".kapitan").is_file()
    assert _run(tmp_path).returncode == 0
    assert "replicas: 5" in (tmp_path / "compiled/dev/manifests/deployment.yml").read_text()
    again = _run(tmp_path, "init")
    assert again.returncode == 0 and f"0 created, {len(FILES)} skipped" in again.stderr


def test_init_into_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("")
    got = _run(tmp_path, "init", "taken")
    assert got.returncode == 2
    assert "Traceback" not in got.stderr and "taken" in got.stderr
