"""Kapitan's own examples/kubernetes, compiled by kcompile, equal Kapitan's committed output.

Runs bench/parity.py on the kapitan 0.36.3 sdist from PyPI: every target but
the helm one (no helm binary here) must be byte-identical.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO


def test_kapitan_examples_are_byte_identical(tmp_path):
    dl = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                         "--no-binary", ":all:", "-d", str(tmp_path), "kapitan==0.36.3"],
                        capture_output=True, text=True, timeout=300)
    if dl.returncode != 0:
        pytest.skip(f"cannot download the kapitan sdist: {dl.stderr.strip()[-300:]}")
    (sdist,) = tmp_path.glob("kapitan-*.tar.gz")
    run = subprocess.run([sys.executable, str(REPO / "bench/parity.py"), "--sdist", str(sdist)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "8/8 targets byte-identical" in run.stdout, run.stdout
