"""Engine backed by kapicorp-reclass (the engine Kapitan uses by default)."""

from __future__ import annotations

from typing import Any

import reclass
import reclass.core
import reclass.settings
import yaml
from reclass.errors import ReclassException

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

    def render(self, target: str) -> dict[str, Any]:
        """Render one target with kapicorp-reclass."""
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
