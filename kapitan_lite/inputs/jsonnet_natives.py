"""The native functions behind ``lib/kapitan.libjsonnet``, with Kapitan's semantics.

Files are looked up in the search paths in order, as Kapitan does. Note the
return types, which components rely on: ``yaml_load`` and
``yaml_load_stream`` return JSON *text* (components call ``std.parseJson``
on it), ``file_exists`` returns ``{exists, path}`` and ``jsonschema``
returns ``{valid, reason}``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
from collections.abc import Callable
from typing import Any

import yaml

from ..compile.deps import Deps
from .base import TargetEnv, with_target_full_path

Native = tuple[tuple[str, ...], Callable[..., Any]]


def _find(search_paths: list[str], name: str, deps: Deps) -> str | None:
    for base in search_paths:
        path = os.path.join(base, name)
        deps.exists(path)
        if os.path.exists(path):
            deps.path(path)  # its bytes, or for a directory its whole tree
            return path
    return None


def _yaml_file(search_paths: list[str], name: str, deps: Deps) -> str:
    path = _find(search_paths, name, deps) if name.endswith((".yml", ".yaml")) else None
    if path is None:
        raise OSError(f"could not find any input yaml file: {name} "
                      f"(searched {', '.join(search_paths)}; the name must end in .yml or .yaml)")
    return path


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8", newline="") as fp:
        return fp.read()


def _files(directory: str) -> list[str]:
    # Sorted, where Kapitan keeps os.listdir's order: same input, same bytes.
    return sorted(f for f in os.listdir(directory) if os.path.isfile(os.path.join(directory, f)))


def target_inventory(env: TargetEnv, target: str | None) -> Any:
    """``inventory(target)``: one target's inventory, or with None every target's by name."""
    if target is None:
        return {name: env.inventory_global[name] for name in env.inventory_global}
    if target == env.name:
        return with_target_full_path(env.inventory, target)
    if target not in env.inventory_global:
        raise ValueError(f"inventory(): no target named {target!r}")
    return with_target_full_path(env.inventory_global[target], target)


def yaml_load(paths: list[str], name: str, deps: Deps) -> str:
    """The YAML file ``name`` (first in ``paths``) as JSON text."""
    with open(_yaml_file(paths, name, deps), encoding="utf-8") as fp:
        return json.dumps(yaml.safe_load(fp))


def yaml_load_stream(paths: list[str], name: str, deps: Deps) -> str:
    """The YAML stream ``name`` as the JSON text of a list of its documents."""
    with open(_yaml_file(paths, name, deps), encoding="utf-8") as fp:
        return json.dumps(list(yaml.safe_load_all(fp)))


def file_read(paths: list[str], name: str, deps: Deps) -> str:
    """The text of file ``name``, newlines untouched."""
    path = _find(paths, name, deps)
    if path is None:
        raise OSError(f"Could not find file {name}")
    return _read_text(path)


def file_exists(paths: list[str], name: str, deps: Deps) -> dict[str, Any]:
    """``{exists, path}`` of ``name`` in ``paths``."""
    path = _find(paths, name, deps)
    return {"exists": path is not None, "path": path or ""}


def dir_files_list(paths: list[str], name: str, deps: Deps) -> list[str]:
    """The names of the files (not directories) in directory ``name``."""
    path = _find(paths, name, deps)
    if path is None:
        raise OSError(f"Could not find folder {name}")
    return _files(path)


def dir_files_read(paths: list[str], name: str, deps: Deps) -> dict[str, str] | None:
    """Every file of directory ``name`` by name, with its text; None if it is missing."""
    path = _find(paths, name, deps)
    if path is None:
        return None  # Kapitan's result: null
    return {f: _read_text(os.path.join(path, f)) for f in _files(path)}


def jinja2_render_file(paths: list[str], name: str, ctx: str, deps: Deps,
                       render_template: Callable[[str, dict[str, Any]], str]) -> str:
    """Render template ``name`` (first in ``paths``) with the JSON context ``ctx``."""
    path = _find(paths, name, deps)
    if path is None:
        raise OSError(f"jinja2 failed to render, could not find file: {name}")
    return render_template(path, json.loads(ctx))


def natives(env: TargetEnv, render_template: Callable[[str, dict[str, Any]], str]) -> dict[str, Native]:
    """The native callbacks for one target, keyed by the name ``std.native`` uses."""
    paths, deps = env.search_paths, env.deps

    def in_paths(fn: Callable[..., Any]) -> Callable[[str], Any]:
        return lambda name: fn(paths, name, deps)

    return {
        "inventory": (("target", "inv_path"), lambda target, _inv: target_inventory(env, target)),
        "yaml_load": (("name",), in_paths(yaml_load)),
        "yaml_load_stream": (("name",), in_paths(yaml_load_stream)),
        "file_read": (("name",), in_paths(file_read)),
        "file_exists": (("name",), in_paths(file_exists)),
        "dir_files_list": (("name",), in_paths(dir_files_list)),
        "dir_files_read": (("name",), in_paths(dir_files_read)),
        "jinja2_render_file": (("name", "ctx"), lambda name, ctx: jinja2_render_file(
            paths, name, ctx, deps, render_template)),
        "yaml_dump": (("obj",), yaml_dump),
        "yaml_dump_stream": (("obj",), yaml_dump_stream),
        "sha256_string": (("obj",), sha256_string),
        "gzip_b64": (("obj",), gzip_b64),
        "jsonschema_validate": (("obj", "schema_obj"), jsonschema_validate),
    }


def yaml_dump(obj: str) -> str:
    """A JSON text as YAML (``yaml.safe_dump``, block style, sorted keys)."""
    return yaml.safe_dump(json.loads(obj), default_flow_style=False)


def yaml_dump_stream(obj: str) -> str:
    """A JSON list as a YAML stream, one document per element."""
    return yaml.safe_dump_all(json.loads(obj), default_flow_style=False)


def sha256_string(obj: str) -> str:
    """Hex sha256 of the UTF-8 text."""
    return hashlib.sha256(obj.encode("utf-8")).hexdigest()


def gzip_b64(obj: str) -> str:
    """Base64 of the text gzipped at level 9 with mtime 0 (so the same text gives the same bytes)."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as fp:
        fp.write(obj.encode("utf-8"))
    return base64.b64encode(buf.getvalue()).decode("ascii")


def jsonschema_validate(obj: str, schema_obj: str) -> dict[str, Any]:
    """Validate a JSON text against a JSON schema text: ``{valid, reason}``."""
    try:
        import jsonschema
    except ImportError as exc:
        raise RuntimeError("kapitan.libjsonnet jsonschema() needs the jsonschema package: "
                           "pip install 'kapitan-lite[jsonschema]'") from exc
    try:
        jsonschema.validate(json.loads(obj), json.loads(schema_obj),
                            format_checker=jsonschema.FormatChecker())
    except jsonschema.ValidationError as exc:
        return {"valid": False, "reason": str(exc)}
    return {"valid": True, "reason": ""}
