"""Reclass settings: ``inventory/reclass-config.yml`` over Kapitan's defaults."""

from __future__ import annotations

import os
from typing import Any

from ..errors import UserError

CONFIG_FILE = "reclass-config.yml"


def kapitan_defaults(inventory_path: str, compose_node_name: bool = False) -> dict[str, Any]:
    """Kapitan's reclass defaults (allow_none_override on, ignore_class_notfound off)."""
    return {
        "storage_type": "yaml_fs",
        "inventory_base_uri": inventory_path,
        "nodes_uri": "targets",
        "classes_uri": "classes",
        "compose_node_name": compose_node_name,
        "allow_none_override": True,
        "ignore_class_notfound": False,
    }


def load_reclass_config(inventory_path: str, compose_node_name: bool = False) -> dict[str, Any]:
    """The effective reclass config; ``nodes_uri``/``classes_uri`` stay relative."""
    config = kapitan_defaults(inventory_path, compose_node_name)
    path = os.path.join(inventory_path, CONFIG_FILE)
    if os.path.isfile(path):
        from ..yamlload import (  # a run the cache answers needs no YAML
            YamlLoadError,
            load_yaml_file,
        )

        try:
            data = load_yaml_file(path)
        except YamlLoadError as exc:
            raise UserError.of(exc.message, path=path, line=exc.line) from None
        if data is not None and not isinstance(data, dict):
            raise UserError.of("reclass config must be a mapping", path=path, line=1)
        config.update(data or {})
    return config


def absolute_uri(inventory_path: str, uri: str) -> str:
    """``nodes_uri``/``classes_uri`` made absolute against the inventory path."""
    return os.path.normpath(os.path.join(inventory_path, uri))
