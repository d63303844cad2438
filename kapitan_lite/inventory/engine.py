"""The registry of inventory engines."""

from __future__ import annotations

from typing import Any

from .engine_api import Engine

# The first is the default: kapitan-lite's own engine; the others are kept for cross-checking.
ENGINES = ("kapitan-lite", "reclass", "reclass-rs")
DEFAULT_ENGINE = ENGINES[0]


def make_engine(name: str, inventory_path: str, config: dict[str, Any]) -> Engine:
    """Build the engine called ``name`` for an inventory and its reclass config."""
    if name == "kapitan-lite":
        from .native.engine import NativeEngine

        return NativeEngine(inventory_path, config)
    if name == "reclass":
        from .reclass_engine import ReclassEngine

        return ReclassEngine(inventory_path, config)
    if name == "reclass-rs":
        from .reclass_rs_engine import ReclassRsEngine

        return ReclassRsEngine(inventory_path, config)
    raise ValueError(f"unknown inventory backend {name!r} (choose from {', '.join(ENGINES)})")
