"""``kapitan.cached``: the compile options and the inventory, as Kapitan's globals.

Kapitan keeps them as process-wide globals; here each is looked up in the
component run in progress when read, so ``from kapitan.cached import args``
gives this run's values and nothing is carried from one target to the next:

- ``args``: the compile options, an ``argparse.Namespace`` with Kapitan's
  names (``args.search_paths``, ``args.inventory_path``, ``args.reveal``, ...);
- ``global_inv``: every target's inventory by name (resolved on demand);
- ``inv``: the same, as Kapitan's inventory object (``inv[name]``,
  ``inv.inventory``).
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Iterator, Mapping
from typing import Any

from .run import current


class InventoryView(Mapping[str, Any]):
    """Kapitan's ``cached.inv``: targets by name, and the whole as ``.inventory``."""

    def __init__(self, targets: Mapping[str, Any]):
        self.inventory = targets

    def __getitem__(self, name: str) -> Any:
        return self.inventory[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.inventory)

    def __len__(self) -> int:
        return len(self.inventory)


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    if name not in ("args", "inv", "global_inv"):
        raise AttributeError(f"kcompile does not provide kapitan.cached.{name} "
                             "(only args, inv and global_inv)")
    run = current()
    if name == "args":
        return run.remember("cached.args",
                            lambda: argparse.Namespace(**copy.deepcopy(run.env.compile_args)))
    if name == "inv":
        return run.remember("cached.inv", lambda: InventoryView(run.env.inventory_global))
    return run.env.inventory_global
