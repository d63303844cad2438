"""``input_type: jsonnet``: Jsonnet files whose top-level keys become output files.

Evaluated with the ``jsonnet`` package (the ``jsonnet`` extra) with the ext
var ``target`` and Kapitan's import rules: an import is looked up next to
the importing file, then in kcompile's bundled ``lib/kapitan.libjsonnet``,
then in the search paths. Each top-level key is written as one file
(``a/b`` makes a subdirectory); a result that is not an object is written
as ``{<input file name without extension>: result}``.

Imported files are read once per worker process and kept.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from ..compile.deps import Deps
from .base import InputError, TargetEnv
from .jinja2 import Jinja2Input
from .jsonnet_natives import natives
from .objects import write_objects

# Kapitan resolves imports it can't find next to the importing file in its
# install directory, which holds lib/kapitan.libjsonnet; this is ours.
BUNDLED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jsonnet_lib")

# A location in a Jsonnet error: "path:line:col", "path:line:col-col" or
# "path:(line:col)-(line:col)".
_LOCATION = re.compile(r"(?P<path>[^\s:][^:\t]*):(?:(?P<line>\d+):\d+(?:-\d+)?"
                       r"|\((?P<line2>\d+):\d+\)-\(\d+:\d+\))")


def error_location(message: str) -> tuple[str, int, str]:
    """``(file, line, message)`` of a Jsonnet error: its innermost frame outside the bundled library."""
    lines = message.strip().splitlines()
    head = lines[0] if lines else message
    kind, _, text = head.partition(": ")
    if kind == "STATIC ERROR":
        m = _LOCATION.match(text)
        if m:
            return m["path"], int(m["line"] or m["line2"]), \
                f"jsonnet static error: {text[m.end():].lstrip(': ')}"
    for frame in lines[1:]:
        m = _LOCATION.search(frame.strip())
        if m and not os.path.abspath(m["path"]).startswith(BUNDLED_DIR + os.sep):
            return m["path"], int(m["line"] or m["line2"]), f"jsonnet {kind.lower()}: {text or head}"
    return "", 0, f"jsonnet {kind.lower()}: {text or head}" if text else head


class JsonnetInput:
    """Evaluates Jsonnet files; imported files are cached for the process."""

    # Imports, native file reads, rendered templates and other targets read
    # are recorded in ``env.deps``.
    tracks_deps = True
    in_memory = True

    def __init__(self) -> None:
        self._files: dict[str, bytes] = {}
        self._jinja2 = Jinja2Input()

    def _import(self, search_paths: list[str], base: str, rel: str,
                deps: Deps) -> tuple[str, bytes]:
        """Kapitan's import order: beside the importer, the bundled library, the search paths."""
        candidates = [os.path.normpath(os.path.join(base, rel)), os.path.join(BUNDLED_DIR, rel)]
        candidates += [os.path.normpath(os.path.join(p, rel)) for p in search_paths]
        for path in candidates:
            if not path.startswith(BUNDLED_DIR):  # part of kcompile: in the cache's fingerprint
                deps.file(path)
            content = self._files.get(path)
            if content is not None:
                return path, content
            if os.path.isfile(path):
                with open(path, "rb") as fp:
                    content = self._files[path] = fp.read()
                return path, content
        raise RuntimeError(f"file not found beside {base or '.'} nor in search paths "
                           f"{', '.join(search_paths)}")

    def _render_template(self, env: TargetEnv, path: str, context: dict[str, Any]) -> str:
        directory, filename = os.path.split(path)
        jenv = self._jinja2.environment(directory, env)
        jenv.recorder = env.deps
        try:
            template = jenv.get_template(filename)
            return template.render(context)
        except Exception as exc:  # reported through jsonnet, at the caller's line
            raise RuntimeError(f"jinja2 failed to render {path}: "
                               f"{type(exc).__name__}: {exc}") from exc
        except SystemExit as exc:  # a filter may not end the run, nor fake success
            code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
            raise RuntimeError(f"component exited with status {code} "
                               f"(a jinja2 filter, rendering {path})") from exc
        finally:
            jenv.recorder = None

    def compile(self, item: dict[str, Any], input_path: str, out_dir: str, env: TargetEnv) -> None:
        """Evaluate ``input_path`` and write each top-level key as a file below ``out_dir``."""
        try:
            import _jsonnet
        except ImportError as exc:
            raise InputError("input_type jsonnet needs the jsonnet package: "
                             "a dependency of kapitan-lite: reinstall it", input_path) from exc
        search_paths = list(env.search_paths)
        try:
            text = _jsonnet.evaluate_file(
                input_path,
                ext_vars={"target": env.name},
                import_callback=lambda base, rel: self._import(search_paths, base, rel, env.deps),
                native_callbacks=natives(env, lambda p, c: self._render_template(env, p, c)),
            )
        except RuntimeError as exc:
            where, line, message = error_location(str(exc))
            raise InputError(message, where or input_path, line) from exc
        output = json.loads(text)
        if not isinstance(output, dict):
            output = {os.path.splitext(os.path.basename(input_path))[0]: output}
        write_objects(output, item, out_dir, env, source=input_path, in_memory=True)
