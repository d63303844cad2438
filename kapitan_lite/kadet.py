"""The API Python (kadet) components use while they run.

A component imports it as ``from kapitan_lite import kadet``, or unchanged
from Kapitan as ``from kapitan.inputs import kadet`` (see
:func:`kapitan_alias`)::

    inv = kadet.inventory()              # this target, attribute access
    inv.parameters.namespace
    kadet.inventory_global()["other"]    # another target, resolved on demand
    kubelib = kadet.load_from_search_paths("kubelib")
    kadet.BaseObj, kadet.BaseModel, kadet.Dict   # from the kadet package

The functions read the component run in progress, which the ``kadet``
input type sets with :func:`running` around each component.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import types
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from kadet import BaseModel, BaseObj, Dict

from .inputs.base import TargetEnv, with_target_full_path

# Name prefix of the modules components run as in sys.modules.
MODULE_PREFIX = "kcompile_kadet_"


@dataclass
class ComponentRun:
    """One component running for one target."""

    env: TargetEnv
    # Executes the package in a directory as a fresh module of the given name.
    exec_package: Callable[[str, str], types.ModuleType]
    _inventory: dict[bool, Dict] = field(default_factory=dict)
    _global: dict[bool, LazyTargets] = field(default_factory=dict)


_RUN: ContextVar[ComponentRun | None] = ContextVar("kcompile_kadet_run", default=None)


def _current() -> ComponentRun:
    run = _RUN.get()
    if run is None:
        raise RuntimeError("kadet.inventory() and friends only work while kcompile runs a "
                           "component")
    return run


@contextlib.contextmanager
def running(run: ComponentRun) -> Iterator[None]:
    """Make ``run`` the component run the API functions read."""
    token = _RUN.set(run)
    try:
        yield
    finally:
        _RUN.reset(token)


class LazyTargets(Mapping[str, Any]):
    """Every target's inventory as a kadet ``Dict``, each resolved on first read."""

    def __init__(self, targets: Mapping[str, Any], lazy: bool):
        self._targets = targets
        self._lazy = lazy
        self._boxes: dict[str, Dict] = {}

    def __getitem__(self, name: str) -> Dict:
        box = self._boxes.get(name)
        if box is None:
            box = self._boxes[name] = Dict(self._targets[name], default_box=self._lazy)
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


def inventory(lazy: bool = False) -> Dict:
    """This target's inventory (``parameters``, ``classes``, ``applications``, ``exports``).

    With ``lazy=True`` a missing key reads as an empty ``Dict`` instead of
    raising, as in Kapitan.
    """
    run = _current()
    box = run._inventory.get(lazy)
    if box is None:
        box = run._inventory[lazy] = Dict(with_target_full_path(run.env.inventory, run.env.name),
                                          default_box=lazy)
    return box


def inventory_global(lazy: bool = False) -> LazyTargets:
    """Every target's inventory by name; a target is resolved when first read."""
    run = _current()
    targets = run._global.get(lazy)
    if targets is None:
        targets = run._global[lazy] = LazyTargets(run.env.inventory_global, lazy)
    return targets


def search_paths() -> list[str]:
    """The search paths of this run (``-J``, then the compiled output being built)."""
    return list(_current().env.search_paths)


def load_from_search_paths(module_name: str) -> types.ModuleType:
    """Run the package ``<search path>/<module_name>/__init__.py`` and return it as a module.

    The first search path holding it wins. Like Kapitan, the package runs
    afresh on every call, so module-level ``inventory()`` reads this target.
    """
    run = _current()
    for base in run.env.search_paths:
        directory = os.path.join(base, module_name)
        if os.path.isfile(os.path.join(directory, "__init__.py")):
            return run.exec_package(directory, f"{MODULE_PREFIX}lib_{module_name}")
    raise ModuleNotFoundError(f"Could not load module name {module_name}: no "
                              f"{module_name}/__init__.py in search paths "
                              f"{', '.join(run.env.search_paths)}")


def to_plain(obj: Any) -> Any:
    """``obj`` with kadet objects, Boxes and tuples turned into plain dicts and lists."""
    if isinstance(obj, BaseObj | BaseModel):
        obj = obj.root
    if isinstance(obj, Mapping):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_plain(v) for v in obj]
    return obj


def _kapitan_importable() -> bool:
    return "kapitan" in sys.modules or importlib.util.find_spec("kapitan") is not None


@contextlib.contextmanager
def kapitan_alias() -> Iterator[None]:
    """Let ``from kapitan.inputs import kadet`` give this module, while a component runs.

    Only when no real ``kapitan`` is importable: then ``kapitan``,
    ``kapitan.inputs`` and ``kapitan.inputs.kadet`` are put in
    ``sys.modules`` for the run and taken out after it, so nothing outside
    a component run ever sees them, and a real Kapitan install is never
    shadowed.
    """
    if _kapitan_importable():
        yield
        return
    this = sys.modules[__name__]
    pkg = types.ModuleType("kapitan", "kcompile's stand-in for Kapitan, for kadet components")
    pkg.__path__ = []
    inputs = types.ModuleType("kapitan.inputs")
    inputs.__path__ = []
    inputs.kadet = this  # type: ignore[attr-defined]
    pkg.inputs = inputs  # type: ignore[attr-defined]
    aliases = {"kapitan": pkg, "kapitan.inputs": inputs, "kapitan.inputs.kadet": this}
    sys.modules.update(aliases)
    try:
        yield
    finally:
        for name, module in aliases.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


__all__ = ["BaseModel", "BaseObj", "Dict", "inventory", "inventory_global",
           "load_from_search_paths", "search_paths"]
