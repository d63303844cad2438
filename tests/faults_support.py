"""Helpers of the fault tests: a fleet whose compiled/ is known in advance, and /proc checks."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import COMMON_CLASS, write_tree

COMMON = COMMON_CLASS + """\
    compile:
      - input_type: jinja2
        input_paths: [templates]
        output_path: manifests
"""
PAD = "# " + "x" * 200 + "\n"


def template(j: int) -> str:
    return ("target: {{ inventory.parameters.target_name }}\n"
            "version: {{ inventory.parameters.version }}\n"
            f"file: {j}\n" + PAD * (j % 4))


def fleet(root: Path, targets: int = 30, files: int = 8, version: str = "v0") -> Path:
    """``targets`` targets of ``files`` files each; every file names its target and version."""
    tree = {"inventory/classes/common.yml": COMMON,
            "inventory/classes/version.yml": f"parameters:\n  version: {version}\n"}
    for j in range(files):
        tree[f"templates/f{j}.yml"] = template(j)
    for i in range(targets):
        tree[f"inventory/targets/t{i:03d}.yml"] = "classes: [common, version]\nparameters: {}\n"
    return write_tree(root, tree)


def set_version(root: Path, version: str, only: str = "") -> None:
    """Change the version every target renders (``only``: the targets whose name starts so)."""
    if not only:
        (root / "inventory/classes/version.yml").write_text(f"parameters:\n  version: {version}\n")
        return
    for t in sorted((root / "inventory/targets").glob(f"{only}*.yml")):
        t.write_text(f"classes: [common, version]\nparameters:\n  version: {version}\n")


def expected(targets: int, files: int, versions: dict[str, str]) -> dict[str, str]:
    """The content hash of every file and dir of compiled/ for these versions (target -> v)."""
    out: dict[str, str] = {}
    for i in range(targets):
        t = f"t{i:03d}"
        out[t] = out[f"{t}/manifests"] = "dir"
        for j in range(files):
            text = (f"target: {t}\nversion: {versions[t]}\nfile: {j}\n" + PAD * (j % 4))
            out[f"{t}/manifests/f{j}.yml"] = hashlib.sha256(text.rstrip("\n").encode()).hexdigest()
    return out


def tree_hashes(root: Path) -> dict[str, str] | None:
    """The content hash of every file and dir under ``root`` (None: no such dir)."""
    if not root.is_dir():
        return None
    out: dict[str, str] = {}
    for dirpath, dirs, names in os.walk(root):
        for d in dirs:
            out[os.path.relpath(os.path.join(dirpath, d), root)] = "dir"
        for n in names:
            p = os.path.join(dirpath, n)
            with open(p, "rb") as fp:
                out[os.path.relpath(p, root)] = hashlib.sha256(fp.read()).hexdigest()
    return out


def processes_in(root: Path) -> list[int]:
    """Pids of the processes whose working directory is ``root`` (a run and its workers)."""
    found = []
    real = os.path.realpath(root)
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{pid}/cwd") == real:
                with open(f"/proc/{pid}/stat", "rb") as fp:
                    state = fp.read().rsplit(b")", 1)[1].split()[0]
                if state != b"Z":  # a zombie is dead, its parent not yet told
                    found.append(int(pid))
        except OSError:
            continue
    return found


def wait_no_processes(root: Path, seconds: float = 5.0) -> list[int]:
    """Wait until no process works in ``root``; those still there after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        left = processes_in(root)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


def start(root: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    """Start ``kcompile`` in ``root`` in a session of its own."""
    return subprocess.Popen([sys.executable, "-m", "kapitan_lite", *args], cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})}, start_new_session=True)


def kill_all(root: Path) -> None:
    """SIGKILL whatever still works in ``root`` (a failed test must not leave processes)."""
    for pid in processes_in(root):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
