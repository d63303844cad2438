"""``input_type: copy``: files and directory contents copied as they are (no ref processing)."""

from __future__ import annotations

import os
import shutil
from typing import Any

from .base import InputError, TargetEnv


class CopyInput:
    """Copy a file into the output dir, or merge a directory's contents into it."""

    tracks_deps = True  # the input path itself, recorded by the plan

    def compile(self, item: dict[str, Any], input_path: str, out_dir: str, env: TargetEnv) -> None:
        """Copy ``input_path`` below ``out_dir``, keeping file modes (dotfiles included)."""
        if os.path.isfile(input_path):
            if os.path.isfile(out_dir):
                shutil.copy2(input_path, out_dir)
                return
            os.makedirs(out_dir, exist_ok=True)
            shutil.copy2(input_path, os.path.join(out_dir, os.path.basename(input_path)))
        elif os.path.isdir(input_path):
            if os.path.exists(out_dir) and not os.path.isdir(out_dir):
                raise InputError(f"cannot copy directory onto file {out_dir}", input_path)
            shutil.copytree(input_path, out_dir, dirs_exist_ok=True)
        else:
            raise InputError("input path is neither a file nor a directory", input_path)
