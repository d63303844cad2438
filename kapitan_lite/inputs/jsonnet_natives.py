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


def natives(env: TargetEnv, render_template: Callable[[str, dict[str, Any]], str]) -> dict[str, Native]:
    """The native callbacks for one target, keyed by the name ``std.native`` uses."""
    paths = env.search_paths

    def inventory(target: str | None, _inv_path: str | None) -> Any:
        if target is None:
            return {name: env.inventory_global[name] for name in env.inventory_global}
        if target == env.name:
            return with_target_full_path(env.inventory, target)
        if target not in env.inventory_global:
            raise ValueError(f"inventory(): no target named {target!r}")
        return with_target_full_path(env.inventory_global[target], target)

    def yaml_load(name: str) -> str:
        with open(_yaml_file(paths, name, env.deps), encoding="utf-8") as fp:
            return json.dumps(yaml.safe_load(fp))

    def yaml_load_stream(name: str) -> str:
        with open(_yaml_file(paths, name, env.deps), encoding="utf-8") as fp:
            return json.dumps(list(yaml.safe_load_all(fp)))

    def file_read(name: str) -> str:
        path = _find(paths, name, env.deps)
        if path is None:
            raise OSError(f"Could not find file {name}")
        return _read_text(path)

    def file_exists(name: str) -> dict[str, Any]:
        path = _find(paths, name, env.deps)
        return {"exists": path is not None, "path": path or ""}

    def dir_files_list(name: str) -> list[str]:
        path = _find(paths, name, env.deps)
        if path is None:
            raise OSError(f"Could not find folder {name}")
        return _files(path)

    def dir_files_read(name: str) -> dict[str, str] | None:
        path = _find(paths, name, env.deps)
        if path is None:
            return None  # Kapitan's result: null
        return {f: _read_text(os.path.join(path, f)) for f in _files(path)}

    def jinja2_render_file(name: str, ctx: str) -> str:
        path = _find(paths, name, env.deps)
        if path is None:
            raise OSError(f"jinja2 failed to render, could not find file: {name}")
        return render_template(path, json.loads(ctx))

    return {
        "inventory": (("target", "inv_path"), inventory),
        "yaml_load": (("name",), yaml_load),
        "yaml_load_stream": (("name",), yaml_load_stream),
        "file_read": (("name",), file_read),
        "file_exists": (("name",), file_exists),
        "dir_files_list": (("name",), dir_files_list),
        "dir_files_read": (("name",), dir_files_read),
        "jinja2_render_file": (("name", "ctx"), jinja2_render_file),
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
                           "pip install 'kapitan-lite[jsonnet]'") from exc
    try:
        jsonschema.validate(json.loads(obj), json.loads(schema_obj),
                            format_checker=jsonschema.FormatChecker())
    except jsonschema.ValidationError as exc:
        return {"valid": False, "reason": str(exc)}
    return {"valid": True, "reason": ""}
