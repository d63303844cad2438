"""``input_type: external``: run a command that writes the item's output itself.

As in Kapitan, the command line is the input path followed by ``args``,
joined with spaces and run by the shell, with an environment of only
``env_vars`` plus the inherited ``PATH`` and ``HOME``. In ``args`` and
``env_vars``, ``${compiled_target_dir}`` is the absolute directory of the
item's output being built (``<staging>/compiled/<target>/<output_path>``);
the inventory writes it escaped, ``\\${compiled_target_dir}``. A non-zero exit
is an error that shows the command's stderr.

The command is started by its absolute path, so a command found through a
search path other than ``.`` runs too (Kapitan hands ``lib/x.sh`` to the
shell, which looks it up in ``PATH``).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from typing import Any

from ..lifetime import child_dies_with_us
from .base import InputError, TargetEnv

PLACEHOLDER = "${compiled_target_dir}"
STDERR_TAIL = 2000  # characters of a failing command's stderr shown in the error


def command_env(env_vars: dict[str, Any], target_dir: str) -> dict[str, str]:
    """The command's environment: ``env_vars`` (placeholder replaced), plus PATH and HOME."""
    out = {str(k): str(v).replace(PLACEHOLDER, target_dir) for k, v in env_vars.items()}
    for name in ("PATH", "HOME"):
        if name not in out and name in os.environ:
            out[name] = os.environ[name]
    return out


class ExternalInput:
    """Runs a command per input path."""

    # Targets using this type are always compiled (never taken from the cache):
    # the command may read anything.
    tracks_deps = False

    def compile(self, item: dict[str, Any], input_path: str, out_dir: str, env: TargetEnv) -> None:
        """Run ``input_path`` with the item's args and env vars; it writes into ``out_dir``."""
        target_dir = os.path.abspath(out_dir)
        args = [str(a) for a in item.get("args") or []]
        command = " ".join([shlex.quote(os.path.abspath(input_path)), *args])
        command = command.replace(PLACEHOLDER, target_dir)
        ref = item["input_paths"][0] if item.get("input_paths") else ""
        try:
            proc = subprocess.run(command, shell=True, env=command_env(item.get("env_vars") or {},
                                                                       target_dir),
                                  capture_output=True, text=True, check=False,
                                  preexec_fn=child_dies_with_us())
        except OSError as exc:
            raise InputError(f"external: cannot run {input_path}: {exc}", ref=ref) from exc
        if proc.returncode != 0:
            # One line per problem: the command's stderr lines are joined.
            stderr = " | ".join(line.strip() for line in proc.stderr.splitlines() if line.strip())
            if len(stderr) > STDERR_TAIL:
                stderr = "..." + stderr[-STDERR_TAIL:]
            detail = f": {stderr}" if stderr else ""
            raise InputError(f"external: {' '.join([input_path, *args])} exited with "
                             f"{proc.returncode}{detail}", ref=ref)
