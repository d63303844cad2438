"""``input_type: remove``: delete files an earlier item of the same target wrote.

Kapitan resolves the paths against its search paths, which include its
temporary output directory, so ``compiled/<target>/x`` names a file compiled
earlier in the run. Here the paths resolve only against the output being
built (``output_only``): a remove item can never delete a source file or
touch the committed ``compiled/`` directly; the writer applies the result.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from .base import InputError, TargetEnv


class RemoveInput:
    """Deletes a file or directory from the output being built."""

    # Targets using this type are always compiled (never taken from the cache):
    # it acts on the output being built, which the cache does not track.
    tracks_deps = False

    output_only = True  # input paths resolve in the compiled output, not in the search paths

    def compile(self, item: dict[str, Any], input_path: str, out_dir: str, env: TargetEnv) -> None:
        """Remove ``input_path``, a file or a whole directory, of this target's output."""
        ref = item["input_paths"][0] if item.get("input_paths") else ""
        root = os.path.abspath(env.output_root)
        if not os.path.abspath(input_path).startswith(root + os.sep):
            # Another target's output may or may not exist yet: removing it would
            # make the result depend on scheduling.
            raise InputError(f"remove: {ref} is not in the output of target {env.name}",
                             ref=ref)
        try:
            if os.path.isdir(input_path) and not os.path.islink(input_path):
                shutil.rmtree(input_path)
            else:
                os.remove(input_path)
        except OSError as exc:
            raise InputError(f"cannot remove {input_path}: {exc.strerror or exc}",
                             ref=ref) from exc
