"""The registry of inventory engines."""

from __future__ import annotations

import atexit
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine_api import Engine
    from .targets import TargetFile
    from .wildcards import Expansion

# The first is the default: kapitan-lite's own engine; the others are kept for cross-checking.
ENGINES = ("kapitan-lite", "reclass", "reclass-rs")
DEFAULT_ENGINE = ENGINES[0]
# Backends Kapitan has that kcompile refuses, with what to do instead.
REFUSED = {
    "omegaconf": "not supported: it is experimental in Kapitan 0.36.3 (a pre-release "
                 "omegaconf, its own syntax and merge rules), so kcompile cannot promise "
                 "Kapitan's output for it; compile this project with kapitan, or use "
                 "a reclass inventory (kapitan-lite, reclass or reclass-rs)",
}


def engine_problem(name: str) -> str | None:
    """Why ``name`` can't be used as an inventory backend (``NAME is ...``), or None if it can."""
    if name in ENGINES:
        return None
    if name in REFUSED:
        return f"{name} is {REFUSED[name]}"
    return f"{name!r} is not an inventory backend (choose from {', '.join(ENGINES)})"


def make_engine(name: str, inventory_path: str, config: dict[str, Any],
                wildcards: Expansion | None = None,
                targets: dict[str, TargetFile] | None = None) -> Engine:
    """Build the engine called ``name`` for an inventory and its reclass config.

    ``wildcards``: the inventory's class patterns, expanded. The native engine
    takes the expanded lists; the others read a rewritten copy of the inventory
    (removed when the run ends), as under Kapitan. ``targets``: the targets
    found in the inventory's nodes dir already, which the native engine reuses.
    """
    if name == "kapitan-lite":
        from .native.engine import NativeEngine

        return NativeEngine(inventory_path, config, wildcards, targets)
    if wildcards is not None and wildcards.classes:
        from .wildcards import materialize, remove

        inventory_path = materialize(wildcards)
        atexit.register(remove, inventory_path)
        config = {**config, "inventory_base_uri": inventory_path}
    if name == "reclass":
        from .reclass_engine import ReclassEngine

        return ReclassEngine(inventory_path, config)
    if name == "reclass-rs":
        from .reclass_rs_engine import ReclassRsEngine

        return ReclassRsEngine(inventory_path, config)
    raise ValueError(f"inventory backend {engine_problem(name)}")
