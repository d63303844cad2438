"""Kapitan 0.36.3 for the tests that compare with it, in a side venv the tests make themselves.

The first test run of a clone installs ``kapitan[oci]==0.36.3`` into
``.kapitan-venv/`` (git ignores it), once, under a lock, when the package
index can be reached; later runs reuse it. ``KAPITAN_VENV=/path/to/venv``
uses another venv (never installed into); ``KCOMPILE_TEST_KAPITAN=skip``
installs nothing. Without Kapitan, the comparison tests skip, and their
reason names the command that enables them.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SIDE_VENV = REPO / ".kapitan-venv"
PACKAGE = "kapitan[oci]==0.36.3"
ENABLE = f"python3 -m venv .kapitan-venv && .kapitan-venv/bin/pip install '{PACKAGE}'"
_OUTCOME = "KCOMPILE_TEST_KAPITAN_OUTCOME"  # children (xdist workers) learn the first attempt's


def ensure_kapitan() -> tuple[Path, str]:
    """The kapitan executable, and why it is missing ("" when it is there)."""
    if os.environ.get("KAPITAN_VENV"):
        exe = Path(os.environ["KAPITAN_VENV"]) / "bin" / "kapitan"
        return exe, "" if exe.exists() else f"kapitan 0.36.3 not found at {exe} (KAPITAN_VENV)"
    exe = SIDE_VENV / "bin" / "kapitan"
    if exe.exists():
        return exe, ""
    if os.environ.get("KCOMPILE_TEST_KAPITAN") == "skip":
        return exe, f"kapitan 0.36.3 not installed (KCOMPILE_TEST_KAPITAN=skip); to enable: {ENABLE}"
    if os.environ.get(_OUTCOME):
        return exe, os.environ[_OUTCOME]
    reason = _install(exe)
    os.environ[_OUTCOME] = reason or "ok"
    return exe, reason


def _install(exe: Path) -> str:
    """Install Kapitan into the side venv under a lock; the reason it failed, or ""."""
    with open(REPO / ".kapitan-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if exe.exists():  # another process installed it while this one waited
            return ""
        sys.stderr.write(f"tests: installing {PACKAGE} into {SIDE_VENV} (once) ...\n")
        shutil.rmtree(SIDE_VENV, ignore_errors=True)
        pip = str(SIDE_VENV / "bin" / "pip")
        try:
            subprocess.run([sys.executable, "-m", "venv", str(SIDE_VENV)], check=True,
                           capture_output=True, timeout=300)
            subprocess.run([pip, "install", "--quiet", "--timeout", "20", "--retries", "1",
                            PACKAGE], check=True, capture_output=True, timeout=1200)
        except (OSError, subprocess.SubprocessError) as exc:
            shutil.rmtree(SIDE_VENV, ignore_errors=True)
            detail = getattr(exc, "stderr", b"") or b""
            last = detail.decode(errors="replace").strip().splitlines()[-1:] or [str(exc)]
            return (f"kapitan 0.36.3 could not be installed into .kapitan-venv ({last[0]}); "
                    f"to enable: {ENABLE}")
    return ""
