"""Generated objects to files: what Kapitan's ``InputType.to_file`` and ``CompilingFile`` do.

Generators (kadet, jsonnet, helm) produce ``{file name: value}``. Each value is
pruned when the item asks for it, its ref tags are compiled, and it is
serialised with the item's ``output_type`` into ``<out_dir>/<name>.<ext>``.
Unlike Kapitan, a falsy value (``{}``, ``[]``, ``0``, ``false``, ``""``,
``null``) is serialised like any other instead of giving an empty file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import yaml

from ..compile.staged import NEW_FILE_MODE
from ..outputs import serialise
from ..refs.store import RefError
from .base import InputError, TargetEnv

# Extensions that ``output_type: auto`` keeps as the output type.
AUTO_TYPES = ("toml", "json", "yaml", "yml")


def _pruned(obj: Any) -> Any:
    # None stands for "drop me": a null, or a container that was empty to begin with.
    if isinstance(obj, Mapping):
        if not obj:
            return None
        return {k: v for k, v in ((k, _pruned(v)) for k, v in obj.items()) if v is not None}
    if isinstance(obj, list | tuple):
        if not obj:
            return None
        return [v for v in (_pruned(v) for v in obj) if v is not None]
    return obj


def prune_empty(obj: Any) -> Any:
    """``obj`` without ``null``, ``{}`` and ``[]`` values at any depth (Kapitan's ``prune``).

    ``0``, ``false`` and ``""`` stay. As in Kapitan, a container is dropped
    when it was empty, not when pruning emptied it (``{a: {b: null}}`` gives
    ``{a: {}}``). The top-level value keeps its type: an empty mapping stays
    ``{}``, where Kapitan writes an empty file.
    """
    pruned = _pruned(obj)
    if pruned is None and isinstance(obj, Mapping | list | tuple):
        return {} if isinstance(obj, Mapping) else []
    return pruned


def file_name(key_path: str, output_type: str, default_type: str) -> tuple[str, str]:
    """The file name for a generated key and the type it is written as.

    ``yml``/``yaml``/``json``/``toml`` append their extension, ``plain`` none;
    ``auto`` keeps a recognised extension already on the key, and otherwise
    appends the input type's default.
    """
    if output_type == "auto":
        ext = os.path.splitext(key_path)[1][1:]
        if ext in AUTO_TYPES:
            return key_path, ext
        output_type = default_type
    if output_type == "plain":
        return key_path, output_type
    return f"{key_path}.{output_type}", output_type


def multiline_style(env: TargetEnv) -> str:
    """The YAML multi-line string style: the target's ``parameters.multiline_string_style``, else ``-L``."""
    return env.inventory["parameters"].get("multiline_string_style") or \
        env.output.multiline_string_style


def render(value: Any, output_type: str, item: Mapping[str, Any], env: TargetEnv) -> str:
    """Serialise one generated value: prune, compile ref tags, dump.

    Raises :class:`RefError` for a bad ref tag and :class:`InputError` for a
    value the output type can't hold.
    """
    if item.get("prune"):
        value = prune_empty(value)
    if output_type == "plain":
        if not isinstance(value, str):
            raise InputError(f"output_type plain needs a string, got {type(value).__name__}")
        return env.tags.compile_text(value)
    value = env.tags.compile_obj(value)
    try:
        return serialise(value, output_type, indent=env.output.indent,
                         style=multiline_style(env), null_as_empty=env.output.null_as_empty)
    except (yaml.YAMLError, TypeError, ValueError) as exc:
        raise InputError(f"cannot write as {output_type}: {type(exc).__name__}: {exc}") from exc


def write_objects(objects: Mapping[str, Any], item: Mapping[str, Any], out_dir: str,
                  env: TargetEnv, source: str, default_type: str = "yaml",
                  in_memory: bool = False) -> None:
    """Write ``{key: value}`` as files below ``out_dir``; a ``/`` in a key makes directories.

    ``source`` is the generator file, used to locate a bad ref tag. With
    ``in_memory`` the files go to the target's in-memory output instead of disk.
    """
    output_type = item.get("output_type") or default_type
    for key, value in objects.items():
        name, kind = file_name(str(key), output_type, default_type)
        dest = os.path.normpath(os.path.join(out_dir, name))
        if not dest.startswith(os.path.normpath(out_dir) + os.sep):
            raise InputError(f"output file {name!r} lies outside the item's output path",
                             source)
        try:
            text = render(value, kind, item, env)
        except RefError as exc:
            raise InputError(str(exc), source, line_of(source, exc.tag), tag=exc.tag) from exc
        except InputError as exc:
            raise InputError(f"{name}: {exc.message}", exc.path or source, exc.line) from exc
        if in_memory and env.staged is not None:
            env.staged.write(dest, text.encode("utf-8"), NEW_FILE_MODE)
            continue
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "w", encoding="utf-8") as fp:
            fp.write(text)


def line_of(path: str, needle: str) -> int:
    """First line of file ``path`` holding ``needle``, or 0."""
    if not needle or not os.path.isfile(path):
        return 0
    try:
        with open(path, encoding="utf-8") as fp:
            for number, line in enumerate(fp, 1):
                if needle in line:
                    return number
    except (OSError, UnicodeDecodeError):
        pass
    return 0
