"""``kapitan.resources``: the functions behind Kapitan's Jsonnet natives, for Python.

Each takes the search paths to look files up in first, as Kapitan's do:
``jinja2_render_file(search_paths, name, ctx)``, ``yaml_load(search_paths,
name)``, ``yaml_load_stream``, ``read_file``, ``file_exists``,
``dir_files_list``, ``dir_files_read``; and ``inventory(search_paths,
target_name, inventory_path)``, ``yaml_dump``, ``yaml_dump_stream``,
``gzip_b64``, ``sha256_string``, ``jsonschema_validate``. They are the same
functions the ``jsonnet`` input type gives Jsonnet (``inputs/jsonnet_natives``).
"""

from __future__ import annotations

import os
from typing import Any

from ..compile.deps import Deps
from ..inputs import jsonnet_natives as natives
from ..inputs.jsonnet_natives import (
    gzip_b64,
    jsonschema_validate,
    sha256_string,
    yaml_dump,
    yaml_dump_stream,
)
from .errors import InventoryError
from .run import active, current
from .utils import render_jinja2_file

__all__ = ["dir_files_list", "dir_files_read", "file_exists", "gzip_b64", "inventory",
           "jinja2_render_file", "jsonschema_validate", "read_file", "sha256_string",
           "yaml_dump", "yaml_dump_stream", "yaml_load", "yaml_load_stream"]


def _deps() -> Deps:
    run = active()
    return run.env.deps if run is not None else Deps()


def jinja2_render_file(search_paths: list[str], name: str, ctx: str) -> str:
    """Render template ``name``, the first found in ``search_paths``, with JSON context ``ctx``."""
    return natives.jinja2_render_file(
        list(search_paths), name, ctx, _deps(),
        lambda path, context: render_jinja2_file(path, context, search_paths=list(search_paths)))


def yaml_load(search_paths: list[str], name: str) -> str:
    """The YAML file ``name`` as JSON text."""
    return natives.yaml_load(list(search_paths), name, _deps())


def yaml_load_stream(search_paths: list[str], name: str) -> str:
    """The YAML stream ``name`` as the JSON text of the list of its documents."""
    return natives.yaml_load_stream(list(search_paths), name, _deps())


def read_file(search_paths: list[str], name: str) -> str:
    """The text of file ``name``."""
    return natives.file_read(list(search_paths), name, _deps())


def file_exists(search_paths: list[str], name: str) -> dict[str, Any]:
    """``{"exists": bool, "path": where}`` for file ``name``."""
    return natives.file_exists(list(search_paths), name, _deps())


def dir_files_list(search_paths: list[str], name: str) -> list[str]:
    """The names of the files in directory ``name``."""
    return natives.dir_files_list(list(search_paths), name, _deps())


def dir_files_read(search_paths: list[str], name: str) -> dict[str, str] | None:
    """The files of directory ``name`` by name, with their text."""
    return natives.dir_files_read(list(search_paths), name, _deps())


def inventory(search_paths: list[str] | None = None, target_name: str | None = None,
              inventory_path: str | None = "./inventory") -> Any:
    """The inventory of ``target_name``, or with None every target's by name.

    As in Kapitan, ``inventory_path`` (absolute, or relative to the working
    directory or a search path) must exist, but the inventory read is
    always the one being compiled.
    """
    run = current()
    inventory_path = inventory_path or run.env.compile_args.get("inventory_path", "inventory")
    candidates = [os.path.abspath(inventory_path)]
    candidates += [os.path.join(p, inventory_path) for p in search_paths or []]
    if not any(os.path.exists(p) for p in candidates):
        raise InventoryError(f"Inventory not found in search paths: {search_paths or []}")
    return natives.target_inventory(run.env, target_name)
