"""``input_type: jinja2``: templates rendered with Kapitan's Jinja2 environment.

Kapitan builds a fresh Environment for every template of every target, so
each template is compiled again and again. Here one Environment is kept per
template directory for the life of the process: a template is compiled once
and rendered for every target. The loader path is the same as Kapitan's (the
template's directory, then the search paths), so includes resolve the same.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import traceback
from typing import Any

import jinja2
import jinja2.ext

from ..compile.deps import Deps
from ..errors import ENVIRONMENT_ERRNOS, UserError
from ..refs.compiler import TagCompiler
from ..refs.store import RefError
from .base import InputError, InputErrors, TargetEnv
from .jinja2_filters import kapitan_filters, load_filter_file
from .objects import line_of

DEFAULT_FILTERS_FILE = os.path.join("lib", "jinja2_filters.py")


def template_files(input_path: str) -> list[tuple[str, str]]:
    """``(output name, file)`` pairs: a file, or a directory walked recursively, dotfiles skipped."""
    if os.path.isfile(input_path):
        return [(os.path.basename(input_path), input_path)]
    out = []
    for root, dirs, files in os.walk(input_path):
        dirs.sort()
        for f in sorted(files):
            if f.startswith("."):
                continue
            full = os.path.join(root, f)
            out.append((os.path.relpath(full, input_path), full))
    return out


def strip_suffix(name: str, suffix: str) -> str:
    """``name`` without ``suffix`` (Kapitan's ``rstrip`` would strip a character set)."""
    return name[: -len(suffix)] if suffix and name.endswith(suffix) else name


def template_location(exc: BaseException, default: str) -> tuple[str, int]:
    """The template file and line an exception was raised from."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return exc.filename or default, exc.lineno or 0
    path, line = default, 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if not frame.filename.endswith(".py") and os.path.isfile(frame.filename):
            path, line = frame.filename, frame.lineno or 0
    return path, line


class _TrackingEnvironment(jinja2.Environment):
    """An Environment that tells ``recorder`` every template file a render loads.

    Includes and imports load through here at render time too, cached or
    not, so a target depends on exactly the templates it used.
    """

    recorder: Deps | None = None

    def _load_template(self, name: Any, globals: Any) -> jinja2.Template:
        template = super()._load_template(name, globals)
        if self.recorder is not None and template.filename:
            self.recorder.file(template.filename)
        return template


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """Compiled templates on disk; one that can't be written (a full disk) is skipped."""

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        # They save time, never more: the compile reports the disk where it writes.
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def new_environment(loader_paths: list[str], filters: dict[str, Any],
                    bytecode_cache: jinja2.BytecodeCache | None = None) -> _TrackingEnvironment:
    """An Environment as Kapitan makes them (strict undefined, trimmed blocks, ``do``).

    Templates load from ``loader_paths`` in order; ``filters`` are added to
    Jinja2's own. Compiled templates are kept for the Environment's life.
    """
    jenv = _TrackingEnvironment(
        bytecode_cache=bytecode_cache,
        undefined=jinja2.StrictUndefined,
        loader=jinja2.FileSystemLoader(loader_paths),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[jinja2.ext.do],
        auto_reload=False,
        cache_size=-1,
    )
    jenv.filters.update(filters)
    return jenv


class Jinja2Input:
    """Renders templates; Environments are cached per template directory."""

    tracks_deps = True
    in_memory = True

    def __init__(self) -> None:
        self._envs: dict[tuple[str, tuple[str, ...]], jinja2.Environment] = {}
        self._custom_filters: dict[str, dict[str, Any]] = {}
        # The target being rendered: Environments are shared across targets,
        # so the reveal_maybe filter looks its ref compiler up here.
        self._tags: TagCompiler | None = None

    def _reveal_maybe(self, value: Any) -> Any:
        return self._tags.reveal_maybe(value) if self._tags is not None else value

    def _filters(self, env: TargetEnv) -> dict[str, Any]:
        path = env.jinja2_filters_path
        if path not in self._custom_filters:
            custom: dict[str, Any] = {}
            if os.path.isfile(path):
                try:
                    custom = load_filter_file(path)
                except Exception as exc:
                    raise InputError(f"cannot load custom filters: {type(exc).__name__}: {exc}",
                                     path) from exc
            elif os.path.normpath(path) != DEFAULT_FILTERS_FILE and not path.endswith(
                    os.sep + DEFAULT_FILTERS_FILE):
                raise InputError("custom filters file not found", path)
            self._custom_filters[path] = custom
        return self._custom_filters[path]

    def environment(self, template_dir: str, env: TargetEnv) -> _TrackingEnvironment:
        """The shared Environment for templates in ``template_dir``."""
        key = (template_dir, tuple(env.search_paths))
        jenv = self._envs.get(key)
        if jenv is None:
            bcc = None
            filters = {**kapitan_filters(self._reveal_maybe), **self._filters(env)}
            if env.bytecode_dir:
                # Each template is compiled once and shared with the other
                # workers and later runs. Entries are checked against the
                # template's source; Jinja2 checks filter names as it compiles,
                # so each set of filters has its own.
                names = hashlib.sha256("\0".join(sorted(filters)).encode()).hexdigest()[:16]
                directory = os.path.join(env.bytecode_dir, names)
                with contextlib.suppress(OSError):  # a full disk: they compile in memory
                    os.makedirs(directory, exist_ok=True)
                    bcc = _BytecodeCache(directory)
            jenv = self._envs[key] = new_environment(
                [template_dir or "./", *env.search_paths], filters, bcc)
        return jenv

    def compile(self, item: dict[str, Any], input_path: str, out_dir: str, env: TargetEnv) -> None:
        """Render every template under ``input_path`` into ``out_dir``."""
        self._tags = env.tags
        input_params = dict(item.get("input_params") or {})
        input_params.setdefault("compile_path", out_dir)
        context: dict[str, Any] = {
            "inventory_global": env.inventory_global,
            "inventory": env.inventory,
            "input_params": input_params,
        }
        context.update(env.inventory["parameters"]["kapitan"]["vars"])
        env.deps.file(env.jinja2_filters_path)  # every filter may shape the output
        errors: list[InputError] = []
        for name, path in template_files(input_path):
            if item.get("suffix_remove"):
                name = strip_suffix(name, item.get("suffix_stripped") or "")
            try:
                self._render_one(name, path, out_dir, context, env)
            except InputError as exc:  # keep going: every broken template at once
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise InputErrors(errors)

    def _render_one(self, name: str, path: str, out_dir: str, context: dict[str, Any],
                    env: TargetEnv) -> None:
        directory, filename = os.path.split(path)
        jenv = self.environment(directory, env)
        jenv.recorder = env.deps
        try:
            template = jenv.get_template(filename)
            text = template.render(context)
        except (InputError, UserError):
            raise
        except OSError as exc:
            if exc.errno in ENVIRONMENT_ERRNOS:
                raise  # the machine's (a full disk), not the template's
            where, line = template_location(exc, path)
            raise InputError(f"{type(exc).__name__}: {exc}", where, line) from exc
        except Exception as exc:
            where, line = template_location(exc, path)
            message = exc.message if isinstance(exc, jinja2.TemplateError) else str(exc)
            kind = type(exc).__name__
            raise InputError(f"{kind}: {message}", where, line) from exc
        finally:
            jenv.recorder = None
        try:
            text = env.tags.compile_text(text, env.deps)
        except RefError as exc:
            raise InputError(str(exc), path, line_of(path, exc.tag), tag=exc.tag) from exc
        assert env.staged is not None
        env.staged.write(os.path.join(out_dir, name), text.encode("utf-8"),
                         stat.S_IMODE(os.stat(path).st_mode))
