"""Engine backed by kapicorp-reclass (the engine Kapitan uses by default)."""

from __future__ import annotations

import os
from typing import Any

import reclass
import reclass.core
import reclass.settings
import yaml
from reclass.errors import ReclassException

from ..yamlload import YamlLoadError, load_yaml
from .config import absolute_uri
from .engine_api import EngineError, render_each


class ReclassEngine:
    """kapicorp-reclass, one node at a time."""

    name = "reclass"

    def __init__(self, inventory_path: str, config: dict[str, Any]):
        cfg = dict(config)
        for key in ("nodes_uri", "classes_uri"):
            cfg[key] = absolute_uri(inventory_path, cfg[key])
        try:
            storage = reclass.get_storage(
                cfg["storage_type"], cfg["nodes_uri"], cfg["classes_uri"], cfg["compose_node_name"]
            )
            self._core = reclass.core.Core(
                storage, cfg.get("class_mappings"), reclass.settings.Settings(cfg)
            )
        except ReclassException as exc:
            raise EngineError(exc.message) from exc
        # kapicorp-reclass expands YAML aliases without bound: an alias bomb
        # would never finish there, so anchored files are checked first.
        self._bad_yaml = any(_bad_anchored(cfg[key]) for key in ("nodes_uri", "classes_uri"))

    def render(self, target: str) -> dict[str, Any]:
        """Render one target with kapicorp-reclass."""
        if self._bad_yaml:
            raise EngineError("YAML error", target)  # located by re-reading the files
        try:
            info = self._core.nodeinfo(target)
        except ReclassException as exc:
            raise EngineError(exc.message, target) from exc
        except yaml.YAMLError as exc:  # kapicorp-reclass lets parse errors escape unwrapped
            raise EngineError("YAML error", target) from exc
        return {
            "classes": info["classes"],
            "applications": info["applications"],
            "parameters": info["parameters"],
            "exports": info["exports"],
        }

    def render_all(self, targets: list[str]) -> dict[str, dict[str, Any] | EngineError]:
        """Render targets one by one, keeping each failure."""
        return render_each(self, targets)


def _bad_anchored(directory: str) -> bool:
    """True when a YAML file below ``directory`` has anchors and fails :func:`load_yaml`."""
    for root, _, files in os.walk(directory, followlinks=True):
        for name in files:
            if not name.endswith((".yml", ".yaml")):
                continue
            try:
                with open(os.path.join(root, name), "rb") as fp:
                    data = fp.read()
                if b"&" in data:
                    load_yaml(data)
            except (YamlLoadError, OSError):
                return True
    return False
