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


class ReadRecorder(Mapping[str, Any]):
    """A view of ``inventory_global`` that notes whether it was read at all.

    A target whose templates never read it depends on no other target, which
    lets ``kcompile diff`` skip it when its own inventory did not change.
    """

    def __init__(self, inventory_global: Mapping[str, Any]):
        self._inner = inventory_global
        self.read = False

    def __getitem__(self, name: str) -> Any:
        self.read = True
        return self._inner[name]

    def __iter__(self) -> Iterator[str]:
        self.read = True
        return iter(self._inner)

    def __len__(self) -> int:
        self.read = True
        return len(self._inner)
