"""Kapitan's own examples and test resources, compiled by kcompile, equal Kapitan's output.

Runs bench/parity.py on the kapitan 0.36.3 sdist from PyPI: every target of
examples/kubernetes, examples/terraform and examples/docker must be
byte-identical to the sdist's committed compiled/, and every target of
tests/test_resources that kapitan 0.36.3 itself compiles here must be
byte-identical to what it compiles (helm targets need a helm binary on PATH,
which .ci/run installs; without one they are skipped).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
from conftest import REPO
from refs_support import KAPITAN, KAPITAN_MISSING


def counts(out: str, name: str) -> tuple[int, int]:
    found = re.search(rf"^{re.escape(name)}: (\d+)/(\d+) targets byte-identical", out, re.M)
    assert found, f"no summary for {name}:\n{out}"
    return int(found[1]), int(found[2])


def test_kapitan_examples_and_test_resources_are_byte_identical(tmp_path):
    try:
        dl = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                             "--no-binary", ":all:", "-d", str(tmp_path), "kapitan==0.36.3"],
                            capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        pytest.skip("cannot download the kapitan sdist: pip download took over 300 s")
    if dl.returncode != 0:
        pytest.skip(f"cannot download the kapitan sdist: {dl.stderr.strip()[-300:]}")
    (sdist,) = tmp_path.glob("kapitan-*.tar.gz")
    run = subprocess.run([sys.executable, str(REPO / "bench/parity.py"), "--sdist", str(sdist),
                          "--kapitan", str(KAPITAN)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    helm = shutil.which("helm") is not None
    assert counts(run.stdout, "examples/kubernetes") == ((9, 9) if helm else (8, 8)), run.stdout
    assert counts(run.stdout, "examples/terraform") == (3, 3), run.stdout
    assert counts(run.stdout, "examples/docker") == (1, 1), run.stdout
    if KAPITAN_MISSING:
        pytest.skip(f"tests/test_resources not compared: {KAPITAN_MISSING}")
    # Without helm, kapitan compiles 9 of its 19 test targets; with helm, 17.
    same, compared = counts(run.stdout, "tests/test_resources")
    assert same == compared == (17 if helm else 9), run.stdout
