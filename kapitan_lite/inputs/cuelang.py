"""``input_type: cuelang``: evaluate a CUE module with ``cue export``, as Kapitan does.

The input path is a directory holding a CUE package (and its ``cue.mod``).
It is copied to a temp dir, the item's ``input`` is written into the copy as
``input.yaml``, and there, with ``cue`` from PATH, Kapitan's command runs::

    cue export . [-l <input_fill_path>] input.yaml --out yaml [--expression <output_yield_path>]

Its stdout, untouched (no ref-tag processing), becomes
``<output_path>/<output_filename>`` (``output.yaml`` by default). A
non-zero exit is a located error with cue's message on one line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from typing import Any

import yaml

from ..lifetime import child_dies_with_us
from .base import InputError, TargetEnv, require_directory

STDERR_LIMIT = 2000  # characters of cue's message shown in the error


def cue_arguments(item: dict[str, Any]) -> list[str]:
    """The arguments Kapitan passes to ``cue`` for an item."""
    args = ["export", "."]
    if item.get("input_fill_path"):
        args += ["-l", str(item["input_fill_path"])]
    args += ["input.yaml", "--out", "yaml"]
    if item.get("output_yield_path"):
        args += ["--expression", str(item["output_yield_path"])]
    return args


def output_file(item: dict[str, Any], out_dir: str) -> str:
    """Where the export goes; :class:`ValueError` for a name that leaves ``out_dir``."""
    name = str(item.get("output_filename") or "output.yaml")
    norm = os.path.normpath(name)
    if os.path.isabs(name) or norm == "." or norm.split(os.sep)[0] == "..":
        raise ValueError(f"output_filename {name!r} must be a file name inside output_path")
    return os.path.join(out_dir, norm)


def run_cue(args: list[str], cwd: str) -> bytes:
    """``cue``'s stdout; :class:`RuntimeError` with its message on one line when it fails."""
    try:
        proc = subprocess.run(["cue", *args], cwd=cwd, capture_output=True, check=False,
                              preexec_fn=child_dies_with_us())
    except FileNotFoundError:
        raise RuntimeError("cue binary not found on PATH: install cue "
                           "(https://cuelang.org/docs/introduction/installation/)") from None
    except PermissionError:
        raise RuntimeError("cue binary on PATH is not executable") from None
    if proc.returncode != 0:
        stderr = " | ".join(line.strip() for line in proc.stderr.decode(errors="replace")
                            .splitlines() if line.strip())
        if len(stderr) > STDERR_LIMIT:
            stderr = stderr[:STDERR_LIMIT] + "..."
        raise RuntimeError(f"cue {' '.join(args)} exited with {proc.returncode}"
                           + (f": {stderr}" if stderr else ""))
    return proc.stdout


class CuelangInput:
    """Exports CUE modules with the cue binary."""

    # Targets using this type are always compiled (never taken from the cache):
    # the output depends on the cue binary and on the whole module.
    tracks_deps = False

    def compile(self, item: dict[str, Any], input_path: str, out_dir: str, env: TargetEnv) -> None:
        """Export the CUE module in ``input_path`` into ``out_dir``."""
        ref = require_directory(item, input_path, "cuelang")
        try:
            dest = output_file(item, out_dir)
            with tempfile.TemporaryDirectory(prefix="kcompile-cue-") as tmp:
                module = os.path.join(tmp, os.path.basename(os.path.abspath(input_path)))
                shutil.copytree(input_path, module)
                with open(os.path.join(module, "input.yaml"), "w", encoding="utf-8") as fp:
                    yaml.safe_dump(item.get("input"), fp)
                exported = run_cue(cue_arguments(item), module)
        except (ValueError, RuntimeError) as exc:
            raise InputError(f"cuelang {os.path.normpath(input_path)}: {exc}", ref=ref) from exc
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "wb") as fp:
            fp.write(exported)
