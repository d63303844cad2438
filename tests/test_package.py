"""`python -m build` makes a wheel that works outside the repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from conftest import REPO, content

import kapitan_lite

SOURCES = ("pyproject.toml", "README.md", "kapitan_lite")
FLEET = ("inventory", "templates", "components", "refs")


def _build_wheel(tmp: Path) -> Path:
    """Build the wheel from a copy of the sources, so the checkout gets no build/ or egg-info."""
    pytest.importorskip("build", reason="needs the build package (pip install build; "
                                        "in the test extra)")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / name, src / name)
    run = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp / "dist"),
                          str(src)], capture_output=True, text=True, timeout=600)
    if run.returncode != 0 and "Could not find a version" in run.stdout + run.stderr:
        pytest.skip("python -m build could not install setuptools into its build environment "
                    "(no package index)")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    (wheel,) = (tmp / "dist").glob("*.whl")
    return wheel


def test_wheel_installs_in_a_fresh_venv_and_compiles_the_fleet(tmp_path):
    wheel = _build_wheel(tmp_path)
    assert wheel.name == f"kapitan_lite-{kapitan_lite.__version__}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    assert "kapitan_lite/inputs/jsonnet_lib/lib/kapitan.libjsonnet" in names
    assert not [n for n in names if n.startswith(("tests/", "bench/", "compiled/"))]
    metadata = zipfile.ZipFile(wheel).read(
        f"kapitan_lite-{kapitan_lite.__version__}.dist-info/METADATA").decode()
    assert f"Version: {kapitan_lite.__version__}\n" in metadata  # the version has one home
    requires = re.findall(r"^Requires-Dist: ([\w-]+)[^;\n]*$", metadata, re.M)
    assert {"kadet", "jsonnet", "Jinja2", "reclass-rs"} <= set(requires)
    assert not {"boto3", "moto", "pytest", "cryptography"} & set(requires)  # extras stay extras

    # A fresh venv outside the repository; the wheel with --no-deps, and the
    # dependencies borrowed from this interpreter's site-packages (a path
    # line, after the venv's own), so no package index is needed.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = venv / "bin" / "pip"
    subprocess.run([str(pip), "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
                   check=True, timeout=300)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "zz_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    kcompile = str(venv / "bin" / "kcompile")
    fleet = tmp_path / "fleet"
    for name in FLEET:
        shutil.copytree(REPO / name, fleet / name)
    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import kapitan_lite; print(kapitan_lite.__file__)"],
                           cwd=fleet, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.startswith(str(site)), where.stdout  # the wheel's, not the checkout's
    version = subprocess.run([kcompile, "--version"], cwd=fleet, env=env,
                             capture_output=True, text=True, check=True)
    assert version.stdout == (f"kcompile {kapitan_lite.__version__} "
                              f"(output of kapitan {kapitan_lite.KAPITAN_VERSION})\n")
    run = subprocess.run([kcompile, "-p", "2"], cwd=fleet, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert content(fleet / "compiled") == content(REPO / "compiled")
