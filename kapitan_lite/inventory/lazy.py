"""``inventory_global`` as a mapping that resolves each target on first access."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .inventory import Inventory


class LazyGlobalInventory(Mapping[str, Any]):
    """Every target of an inventory, resolved only when a template reads it."""

    def __init__(self, inventory: Inventory):
        self._inventory = inventory

    def __getitem__(self, name: str) -> Any:
        if name not in self._inventory.targets:
            raise KeyError(name)
        return self._inventory.get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._inventory.names())

    def __len__(self) -> int:
        return len(self._inventory.targets)
