"""The inventory: reclass targets and classes, resolved by a pluggable engine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .engine import DEFAULT_ENGINE, ENGINES

if TYPE_CHECKING:
    from .inventory import Inventory, Target
    from .targets import TargetFile

__all__ = ["DEFAULT_ENGINE", "ENGINES", "Inventory", "Target", "TargetFile"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: a run the cache answers needs the names above only,
    # and the inventory's modules import PyYAML and the engines' helpers.
    if name in ("Inventory", "Target"):
        from . import inventory

        return getattr(inventory, name)
    if name == "TargetFile":
        from .targets import TargetFile

        return TargetFile
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
