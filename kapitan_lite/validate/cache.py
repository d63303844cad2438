"""Results of files validated before: a file whose bytes and schemas are unchanged is not read again.

The results live beside the compile cache (``<output-path>/.kcompile-cache/``),
keyed by a digest of the file's content and of everything its validation
depended on (the tool's code, the Kubernetes version, strictness and the
custom schemas). A missing or corrupt file is an empty cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import Any

from ..compile.cache import CACHE_NAME

RESULTS_FILE = "validate.json"
FORMAT = 1


class ResultCache:
    """Findings per file content, for one output path."""

    def __init__(self, output_path: str, enabled: bool = True):
        self.dir = os.path.join(output_path, CACHE_NAME)
        self.enabled = enabled
        self.old: dict[str, list[Any]] = {}
        self.new: dict[str, list[Any]] = {}
        if enabled:
            try:
                with open(os.path.join(self.dir, RESULTS_FILE), encoding="utf-8") as fp:
                    state = json.load(fp)
                if state.get("format") == FORMAT and isinstance(state.get("files"), dict):
                    self.old = state["files"]
            except (OSError, ValueError, AttributeError):
                self.old = {}

    @staticmethod
    def key(context: str, data: bytes) -> str:
        """The key of a file's content validated in ``context``."""
        return hashlib.sha256(context.encode() + b"\0" + data).hexdigest()

    def get(self, key: str) -> list[Any] | None:
        """The findings recorded for ``key``, or ``None``."""
        if not self.enabled:
            return None
        found = self.new.get(key)
        if found is None:
            found = self.old.get(key)
            if found is not None:
                self.new[key] = found
        return found

    def put(self, key: str, findings: list[Any]) -> None:
        """Record a file's findings."""
        if self.enabled:
            self.new[key] = findings

    def save(self, everything: bool) -> None:
        """Write the cache atomically: this run's entries (and, unless ``everything``, the old)."""
        if not self.enabled:
            return
        files = self.new if everything else {**self.old, **self.new}
        if files == self.old:
            return
        os.makedirs(self.dir, exist_ok=True)
        ignore = os.path.join(self.dir, ".gitignore")
        if not os.path.exists(ignore):
            with open(ignore, "w") as fp:
                fp.write("# kcompile's incremental cache: never commit it\n*\n")
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".validate-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fp:
                fp.write(json.dumps({"format": FORMAT, "files": dict(sorted(files.items()))},
                                    separators=(",", ":")))
            os.replace(tmp, os.path.join(self.dir, RESULTS_FILE))
        except BaseException:
            os.unlink(tmp)
            raise
