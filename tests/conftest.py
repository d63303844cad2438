"""Shared helpers: real projects in temp dirs, the real CLI in a subprocess."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from refs_support import KAPITAN, age_keys, gpg_keys, local_kms  # noqa: F401 (fixtures; KAPITAN for tests)

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    """A finished ``kcompile`` process."""

    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def kcompile(*args: str, cwd: Path | str, env: dict | None = None, timeout: int = 120,
             stdin: str | None = None) -> Run:
    """Run the real CLI (``python -m kapitan_lite``) in ``cwd``."""
    proc = subprocess.run(
        [sys.executable, "-m", "kapitan_lite", *args],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, input=stdin,
        env={**os.environ, **(env or {})},
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


# Output and state dirs, which backdate leaves alone.
NOT_SOURCES = {".git", "compiled", ".kcompile-cache", ".kcompile-staging"}


def backdate(root: Path, seconds: int = 100) -> None:
    """Make every source file under ``root`` look edited ``seconds`` ago, as after a checkout.

    The cache never records a source changed just before a run (it may change
    again unseen within one tick of the file clock), so tests that edit and
    then compile age their edits to exercise the content hashes instead.
    """
    past = time.time() - seconds
    for path in root.rglob("*"):
        if path.is_file() and not NOT_SOURCES & set(path.relative_to(root).parts):
            os.utime(path, (past, past))


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write ``{relative path: text}`` under ``root`` (text is dedented)."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def snapshot(root: Path) -> dict[str, tuple]:
    """Every file and directory under ``root``: bytes, mode and mtime (ns)."""
    out: dict[str, tuple] = {}
    if not root.exists():
        return out
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        rel = str(path.relative_to(root))
        if path.is_dir():
            out[rel] = ("dir", stat.S_IMODE(st.st_mode))
        else:
            out[rel] = (path.read_bytes(), stat.S_IMODE(st.st_mode), st.st_mtime_ns)
    return out


def content(root: Path) -> dict[str, tuple]:
    """Like :func:`snapshot` without mtimes: what a byte-for-byte comparison needs."""
    return {k: v[:2] for k, v in snapshot(root).items()}


COMMON_CLASS = """\
parameters:
  target_name: ${_reclass_:name:short}
  kapitan:
    vars:
      target: ${target_name}
"""


def simple_project(root: Path, targets: dict[str, str] | None = None, extra: dict | None = None) -> Path:
    """A small valid project: class ``common``, a template, and targets."""
    files = {
        "inventory/classes/common.yml": COMMON_CLASS + """\
    compile:
      - input_type: jinja2
        input_paths: [templates/app.yml]
        output_path: manifests
""",
        "templates/app.yml": "name: {{ inventory.parameters.target_name }}\n"
                             "replicas: {{ inventory.parameters.replicas }}\n",
    }
    for name, replicas in (targets if targets is not None else {"alpha": "1", "beta": "2"}).items():
        files[f"inventory/targets/{name}.yml"] = (
            f"classes: [common]\nparameters:\n  replicas: {replicas}\n"
        )
    files.update(extra or {})
    return write_tree(root, files)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh copy of the simple project."""
    return simple_project(tmp_path / "proj")
