"""``inventory_global`` as a mapping that resolves each target on first access."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .inventory import Inventory


class LazyGlobalInventory(Mapping[str, Any]):
    """Every target of an inventory, resolved only when a template reads it.

    ``on_read`` hears the name of each target read, or ``"*"`` when the
    mapping is iterated (then the reader depends on every target).
    """

    def __init__(self, inventory: Inventory, on_read: Callable[[str], None] | None = None):
        self._inventory = inventory
        self._on_read = on_read or (lambda _name: None)

    def view(self, on_read: Callable[[str], None]) -> LazyGlobalInventory:
        """The same inventory, reporting reads to ``on_read``."""
        return LazyGlobalInventory(self._inventory, on_read)

    def __getitem__(self, name: str) -> Any:
        self._on_read(name)
        if name not in self._inventory.targets:
            raise KeyError(name)
        return self._inventory.get(name)

    def __iter__(self) -> Iterator[str]:
        self._on_read("*")
        return iter(self._inventory.names())

    def __len__(self) -> int:
        self._on_read("*")
        return len(self._inventory.targets)

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            self._on_read(name)
        return name in self._inventory.targets
