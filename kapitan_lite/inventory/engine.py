"""The registry of inventory engines."""

from __future__ import annotations

import atexit
from typing import Any

from .engine_api import Engine
from .wildcards import Expansion, materialize, remove

# The first is the default: kapitan-lite's own engine; the others are kept for cross-checking.
ENGINES = ("kapitan-lite", "reclass", "reclass-rs")
DEFAULT_ENGINE = ENGINES[0]


def make_engine(name: str, inventory_path: str, config: dict[str, Any],
                wildcards: Expansion | None = None) -> Engine:
    """Build the engine called ``name`` for an inventory and its reclass config.

    ``wildcards``: the inventory's class patterns, expanded. The native engine
    takes the expanded lists; the others read a rewritten copy of the inventory
    (removed when the run ends), as under Kapitan.
    """
    if name == "kapitan-lite":
        from .native.engine import NativeEngine

        return NativeEngine(inventory_path, config, wildcards)
    if wildcards is not None and wildcards.classes:
        inventory_path = materialize(wildcards)
        atexit.register(remove, inventory_path)
        config = {**config, "inventory_base_uri": inventory_path}
    if name == "reclass":
        from .reclass_engine import ReclassEngine

        return ReclassEngine(inventory_path, config)
    if name == "reclass-rs":
        from .reclass_rs_engine import ReclassRsEngine

        return ReclassRsEngine(inventory_path, config)
    raise ValueError(f"unknown inventory backend {name!r} (choose from {', '.join(ENGINES)})")
