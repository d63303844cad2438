"""The inventory: reclass targets and classes, resolved by a pluggable engine."""

from .engine import ENGINES
from .inventory import Inventory, Target
from .targets import TargetFile

__all__ = ["ENGINES", "Inventory", "Target", "TargetFile"]
