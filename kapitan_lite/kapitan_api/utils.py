"""``kapitan.utils``: the helpers kadet libraries use, with Kapitan's behaviour.

``prune_empty``, ``deep_get``, ``flatten_dict``, ``render_jinja2_file``,
``render_jinja2``, ``render_jinja2_template``, ``sha256_string``,
``dictionary_hash``, ``directory_hash``, ``normalise_join_path``,
``file_mode``, ``list_all_paths``, ``get_entropy``, ``PrettyDumper`` and
``StrEnum``. Templates render in an Environment like the jinja2 input
type's (Kapitan's filters, plus the custom filters file if it exists).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import stat
from collections import Counter
from collections.abc import Iterator, MutableMapping
from enum import StrEnum
from typing import Any

import jinja2
import yaml

from ..inputs.jinja2 import DEFAULT_FILTERS_FILE, new_environment, template_location
from ..inputs.jinja2_filters import kapitan_filters, load_filter_file
from .errors import CompileError
from .run import active

__all__ = ["PrettyDumper", "StrEnum", "deep_get", "dictionary_hash", "directory_hash",
           "file_mode", "flatten_dict", "get_entropy", "list_all_paths", "normalise_join_path",
           "prune_empty", "render_jinja2", "render_jinja2_file", "render_jinja2_template",
           "sha256_string"]


def prune_empty(d: Any) -> Any:
    """``d`` without empty lists and dicts, nor ``None`` values, at any depth.

    An empty list or dict itself becomes ``None`` (so its parent drops it);
    a container emptied by pruning stays, as an empty one, as in Kapitan.
    """
    if isinstance(d, list):
        if not d:
            return None
        return [v for v in map(prune_empty, d) if v is not None]
    if isinstance(d, dict):
        if not d:
            return None
        return {k: v for k, v in ((k, prune_empty(v)) for k, v in d.items()) if v is not None}
    return d


def deep_get(dictionary: Any, keys: list[str], previousKey: str | None = None) -> Any:
    """The value at the key path ``keys``, searched as Kapitan's ``deep_get`` does.

    A truthy value at the first key is followed down; a key with ``*``
    matches any key containing the rest (case-insensitively); and while no
    key of the path has matched yet, each nested dict is searched in turn.
    """
    if not keys:
        return None
    first, rest = keys[0], keys[1:]
    is_dict = isinstance(dictionary, dict)
    value = dictionary.get(first, None) if is_dict else None
    if value:
        if not rest:
            return value
        return deep_get(value, rest, previousKey=first) if isinstance(value, dict) else None
    if not is_dict:
        return value
    if "*" in first:
        needle = first.replace("*", "").lower()
        match = next((k for k in dictionary if needle in k.lower()), None)
        if match is not None:
            if not rest:
                return dictionary[match]
            return deep_get(dictionary[match], rest, previousKey=first)
    if not previousKey:
        for nested in dictionary.values():
            if isinstance(nested, dict):
                found = deep_get(nested, keys, previousKey=first if rest else None)
                if found is not None:
                    return found
    return value


def flatten_dict(d: MutableMapping[str, Any], parent_key: str = "", sep: str = ".") -> dict[str, Any]:
    """Nested mappings as one level, their keys joined with ``sep``."""
    flat: dict[str, Any] = {}
    for key, value in d.items():
        path = f"{parent_key}{sep}{key}" if parent_key else key
        if isinstance(value, MutableMapping):
            flat.update(flatten_dict(value, path, sep=sep))
        else:
            flat[path] = value
    return flat


def sha256_string(string: str) -> str:
    """Hex sha256 of the UTF-8 text."""
    return hashlib.sha256(string.encode("UTF-8")).hexdigest()


def dictionary_hash(d: Any) -> str:
    """Hex sha256 of ``d`` as JSON with sorted keys."""
    return sha256_string(json.dumps(d, sort_keys=True))


def directory_hash(directory: str) -> str:
    """Hex sha256 over the sha256 of every file below ``directory``, in sorted order."""
    if not os.path.isdir(directory):
        what = "doesn't exist" if not os.path.exists(directory) else "is not a directory"
        raise OSError(f"utils.directory_hash failed, {directory} dir {what}")
    total = hashlib.sha256()
    for root, _, files in sorted(os.walk(directory)):
        for name in sorted(files):
            with open(os.path.join(root, name), "rb") as fp:
                data = fp.read()
            # Text is hashed as Kapitan reads it: decoded, newlines translated.
            with contextlib.suppress(UnicodeDecodeError):
                data = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n").encode()
            total.update(hashlib.sha256(data).hexdigest().encode("UTF-8"))
    return total.hexdigest()


def get_entropy(s: str) -> float:
    """The Shannon entropy of ``s``, in bits, to two decimals."""
    n = float(len(s))
    return round(-sum(c / n * math.log2(c / n) for c in Counter(s).values()), 2)


def normalise_join_path(dirname: str, path: str) -> str:
    """``dirname/path``, normalised."""
    return os.path.normpath(os.path.join(dirname, path))


def list_all_paths(folder: str) -> Iterator[str]:
    """Every directory and file below ``folder``."""
    for root, folders, files in os.walk(folder):
        for name in folders + files:
            yield os.path.join(root, name)


def file_mode(name: str) -> int:
    """The permission bits of file ``name``."""
    return stat.S_IMODE(os.stat(name).st_mode)


def _filters(jinja2_filters: str) -> dict[str, Any]:
    run = active()
    tags = run.env.tags if run is not None else None
    filters = kapitan_filters(tags.reveal_maybe if tags is not None else (lambda v: v))
    path = os.path.normpath(jinja2_filters)
    if os.path.isfile(path) or path != os.path.normpath(DEFAULT_FILTERS_FILE):
        filters.update(load_filter_file(path))
    return filters


def render_jinja2_template(content: str, context: Any) -> str:
    """Render the template text ``content`` with ``context`` (undefined names are errors)."""
    return jinja2.Template(content, undefined=jinja2.StrictUndefined).render(context)


def render_jinja2_file(name: str, context: Any, jinja2_filters: str = DEFAULT_FILTERS_FILE,
                       search_paths: list[str] | None = None) -> str:
    """Render the template file ``name`` with ``context``.

    Includes load from the template's directory, then ``search_paths``.
    A template error is a ``CompileError`` naming the template file and line.
    """
    directory, filename = os.path.split(name)
    jenv = new_environment([directory or "./", *(search_paths or [])], _filters(jinja2_filters))
    try:
        return jenv.get_template(filename).render(context)
    except jinja2.TemplateError as exc:
        where, line = template_location(exc, name)
        raise CompileError(f"Jinja2 TemplateError: {exc}, at {where}:{line}") from exc


def render_jinja2(path: str, context: Any, jinja2_filters: str = DEFAULT_FILTERS_FILE,
                  search_paths: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Render the template file ``path``, or every non-hidden file below it.

    Returns ``{relative name: {"content": text, "mode": permission bits}}``.
    """
    base = os.path.dirname(path) if os.path.isfile(path) else path
    walk: Any = [(base, None, [os.path.basename(path)])] if base != path else os.walk(path)
    rendered = {}
    for root, _, files in walk:
        for f in files:
            if f.startswith("."):
                continue
            full = os.path.join(root, f)
            name = os.path.relpath(full, base)
            try:
                content = render_jinja2_file(full, context, jinja2_filters, search_paths)
            except Exception as exc:
                raise CompileError(f"Jinja2 error: failed to render {full}: {exc}") from exc
            rendered[name] = {"content": content, "mode": file_mode(full)}
    return rendered


class PrettyDumper(yaml.SafeDumper):
    """Kapitan's YAML dumper: nested lists indented under their key, ``null`` as Kapitan writes it."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


def _null(dumper: yaml.SafeDumper, data: None) -> yaml.ScalarNode:
    run = active()
    empty = run is not None and run.env.output.null_as_empty
    return dumper.represent_scalar("tag:yaml.org,2002:null", "" if empty else "null")


PrettyDumper.add_representer(type(None), _null)
