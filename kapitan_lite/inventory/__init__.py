"""The inventory: reclass targets and classes, resolved by a pluggable engine."""

from .engine import DEFAULT_ENGINE, ENGINES
from .inventory import Inventory, Target
from .targets import TargetFile

__all__ = ["DEFAULT_ENGINE", "ENGINES", "Inventory", "Target", "TargetFile"]
