"""``input_type: copy``: files and directory contents copied as they are (no ref processing)."""

from __future__ import annotations

import os
from typing import Any

from .base import InputError, TargetEnv


class CopyInput:
    """Copy a file into the output dir, or merge a directory's contents into it."""

    tracks_deps = True  # the input path itself, recorded by the plan
    in_memory = True

    def compile(self, item: dict[str, Any], input_path: str, out_dir: str, env: TargetEnv) -> None:
        """Copy ``input_path`` below ``out_dir``, keeping file modes (dotfiles included)."""
        out = env.staged
        assert out is not None
        if os.path.isfile(input_path):
            dest = out_dir if out.is_file(out_dir) else os.path.join(
                out_dir, os.path.basename(input_path))
            out.copy(input_path, dest)
        elif os.path.isdir(input_path):
            if out.is_file(out_dir):
                raise InputError(f"cannot copy directory onto file {out_dir}", input_path)
            for root, dirs, files in os.walk(input_path):
                rel = os.path.relpath(root, input_path)
                for d in dirs:
                    out.mkdir(os.path.join(out_dir, rel, d))
                for f in files:
                    out.copy(os.path.join(root, f), os.path.join(out_dir, rel, f))
        else:
            raise InputError("input path is neither a file nor a directory", input_path)
