"""``kapitan.inputs.kadet``: the API Python (kadet) components use while they run.

A component imports it unchanged from Kapitan, ``from kapitan.inputs import
kadet`` (see :func:`kapitan_lite.kapitan_api.kapitan_alias`), or as
``from kapitan_lite import kadet``::

    inv = kadet.inventory()              # this target, attribute access
    inv.parameters.namespace
    kadet.inventory_global()["other"]    # another target, resolved on demand
    kubelib = kadet.load_from_search_paths("kubelib")
    kadet.current_target.get()           # the target's name
    kadet.search_paths.get()             # the search paths of this run
    kadet.BaseObj, kadet.BaseModel, kadet.Dict   # from the kadet package

Everything reads the component run in progress (:mod:`..run`). As in
Kapitan, ``inventory()`` is ``inventory_global()[current target]``, one box
per run, and the ``lazy`` flag of the first call in the run decides for the
rest of it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import types
from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Any

import kadet
from kadet import BaseModel, BaseObj, Dict

from ..errors import CompileError
from ..run import MODULE_PREFIX, current, current_target

# As Kapitan does: kadet's need() and friends raise CompileError.
kadet.ABORT_EXCEPTION_TYPE = CompileError

# Kapitan's prefix for the modules of module_from_path().
KADET_COMPONENT_MODULE_PREFIX = "kadet_component_"


class LazyTargets(Mapping[str, Any]):
    """Every target's inventory as a kadet ``Dict``, each resolved on first read."""

    def __init__(self, targets: Mapping[str, Any], lazy: bool, this: str,
                 this_inventory: dict[str, Any]):
        self._targets = targets
        self._lazy = lazy
        self._this = this
        self._this_inventory = this_inventory
        self._boxes: dict[str, Dict] = {}

    def __getitem__(self, name: str) -> Dict:
        box = self._boxes.get(name)
        if box is None:
            # Kapitan 0.36.3 snapshots the inventory before it fills in
            # kapitan.target_full_path: kadet reads it as '' for every target.
            data = self._this_inventory if name == self._this else self._targets[name]
            box = self._boxes[name] = Dict(data, default_box=self._lazy)
        return box

    def __getattr__(self, name: str) -> Dict:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._targets)

    def __len__(self) -> int:
        return len(self._targets)

    def to_dict(self) -> dict[str, Any]:
        """Every target as a plain dict (resolving them all)."""
        return {name: self[name].to_dict() for name in self}


def inventory_global(lazy: bool = False) -> LazyTargets:
    """Every target's inventory by name; a target is resolved when first read.

    With ``lazy=True`` a missing key reads as an empty ``Dict`` instead of
    raising. The first call of a run fixes ``lazy`` for the run, as in Kapitan.
    """
    run = current()
    env = run.env
    return run.remember("inventory_global", lambda: LazyTargets(
        env.inventory_global, lazy, env.name, env.inventory))


def inventory(lazy: bool = False) -> Dict:
    """This target's inventory (``parameters``, ``classes``, ``applications``, ``exports``)."""
    return inventory_global(lazy)[current().env.name]


def inventory_frozen() -> kadet.Box:
    """A frozen copy of this target's inventory."""
    return kadet.Box(data=inventory().dump(), frozen_box=True)


def inventory_digest(target_name: str) -> bytes:
    """A digest of this target's inventory (``target_name`` is ignored, as in Kapitan)."""
    text = json.dumps(inventory_frozen(), sort_keys=True, default=str)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=32).digest()


def topics(name: str | None = None, lazy: bool = False) -> Dict:
    """Kapitan's topics: not provided by kcompile (newer than 0.36.3's exports)."""
    raise NotImplementedError("kadet.topics() is not provided by kcompile")


class _SearchPaths:
    """Kapitan's ``search_paths`` ContextVar: ``search_paths.get()`` (calling it works too)."""

    def get(self, *default: Any) -> list[str]:
        """The search paths of this run, absolute (``-J``, then the compiled output being built)."""
        return [os.path.abspath(p) for p in current().env.search_paths]

    __call__ = get

    def __repr__(self) -> str:
        return "<kapitan.inputs.kadet.search_paths>"


search_paths = _SearchPaths()


def module_from_path(path: str, check_name: str | None = None) -> tuple[types.ModuleType, Any]:
    """The package in directory ``path`` as a not yet executed module, and its spec."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"path: {path} must be an existing directory")
    module_name = os.path.basename(os.path.normpath(path))
    if check_name is not None and check_name != module_name:
        raise ModuleNotFoundError(f"Module name {module_name} does not match check_name "
                                  f"{check_name}")
    spec = importlib.util.spec_from_file_location(
        KADET_COMPONENT_MODULE_PREFIX + module_name, os.path.join(path, "__init__.py"))
    if spec is None:
        raise ModuleNotFoundError(f"Could not load module in path {path}")
    return importlib.util.module_from_spec(spec), spec


def load_from_search_paths(module_name: str) -> types.ModuleType:
    """Run the package ``<search path>/<module_name>/__init__.py`` and return it as a module.

    The first search path holding it wins. Like Kapitan, the package runs
    afresh on every call, so module-level ``inventory()`` reads this target.
    """
    run = current()
    for base in run.env.search_paths:
        directory = os.path.join(base, module_name)
        init = os.path.join(directory, "__init__.py")
        run.env.deps.file(init)  # found here, or (absent) not: either is a dependency
        if os.path.isfile(init):
            run.env.deps.tree(directory)
            return run.exec_package(directory, f"{MODULE_PREFIX}lib_{module_name}")
    raise ModuleNotFoundError(f"Could not load module name {module_name}: no "
                              f"{module_name}/__init__.py in search paths "
                              f"{', '.join(run.env.search_paths)}")


def to_plain(obj: Any) -> Any:
    """``obj`` with kadet objects, Boxes and tuples turned into plain dicts and lists."""
    if isinstance(obj, BaseObj | BaseModel):
        obj = obj.root
    if isinstance(obj, StrEnum):
        # Kapitan registers StrEnum with PyYAML's SafeDumper: written as its value.
        return str(obj.value)
    if isinstance(obj, Mapping):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_plain(v) for v in obj]
    return obj


__all__ = ["KADET_COMPONENT_MODULE_PREFIX", "BaseModel", "BaseObj", "CompileError", "Dict",
           "current_target", "inventory", "inventory_digest", "inventory_frozen",
           "inventory_global", "kadet", "load_from_search_paths", "module_from_path",
           "search_paths", "topics"]
