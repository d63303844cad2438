"""Engine backed by reclass-rs (Rust, parallel)."""

from __future__ import annotations

from typing import Any

import reclass_rs

from .engine_api import EngineError, render_each


class ReclassRsEngine:
    """reclass-rs; renders many targets in parallel threads."""

    name = "reclass-rs"
    batch = True  # render_all is much faster than one render per target

    def __init__(self, inventory_path: str, config: dict[str, Any]):
        try:
            cfg = reclass_rs.Config.from_dict(inventory_path, dict(config), False)
            self._reclass = reclass_rs.Reclass.from_config(cfg)
        except ValueError as exc:
            raise EngineError(str(exc)) from exc

    @staticmethod
    def _as_dict(info: Any) -> dict[str, Any]:
        return {
            "classes": info.classes,
            "applications": info.applications,
            "parameters": info.parameters,
            "exports": info.exports,
        }

    def render(self, target: str) -> dict[str, Any]:
        """Render one target with reclass-rs."""
        try:
            return self._as_dict(self._reclass.nodeinfo(target))
        except ValueError as exc:
            raise EngineError(str(exc), target) from exc

    def render_all(self, targets: list[str]) -> dict[str, dict[str, Any] | EngineError]:
        """Render targets; the whole inventory at once (parallel) when it is all of them."""
        out: dict[str, dict[str, Any] | EngineError] = {}
        if len(targets) > 1:
            try:
                inv = self._reclass.inventory()
            except ValueError:
                inv = None  # fall back to one by one to locate each failure
            if inv is not None:
                nodes = inv.nodes  # converted to Python on each access: once only
                for name in targets:
                    info = nodes.get(name)
                    out[name] = self._as_dict(info) if info is not None else EngineError(
                        f"target {name} not found", name
                    )
                return out
        return render_each(self, targets)
