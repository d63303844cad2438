"""Kapitan 0.36.3's Python API for components: the whole compatibility surface.

Kadet libraries written for Kapitan (kapicorp/generators' ``kubernetes``,
``terraform`` and ``kgenlib``, Kapitan's own examples) import these modules
by their Kapitan names; each module here is the one of the same name:

==========================  ==================================================
``kapitan.inputs.kadet``    :mod:`.inputs.kadet`: ``inventory()``,
                            ``inventory_global()``, ``current_target``,
                            ``search_paths``, ``load_from_search_paths()``,
                            ``BaseObj``, ``BaseModel``, ``Dict``, ``CompileError``
``kapitan.inputs.helm``     :mod:`.inputs.helm`: ``HelmChart``
``kapitan.resources``       :mod:`.resources`: the Jsonnet natives' functions
``kapitan.utils``           :mod:`.utils`: ``prune_empty``, ``render_jinja2_file``,
                            ``deep_get``, ...
``kapitan.cached``          :mod:`.cached`: ``args``, ``inv``, ``global_inv``
``kapitan.errors``          :mod:`.errors`: ``CompileError``, ...
==========================  ==================================================

They read the component run in progress (:mod:`.run`), so nothing is shared
between targets. :func:`kapitan_alias` makes the Kapitan names importable
while a component runs.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator

from .inputs.kadet import to_plain
from .run import MODULE_PREFIX, ComponentRun, current_target, running

__all__ = ["MODULE_PREFIX", "ComponentRun", "current_target", "kapitan_alias", "running",
           "to_plain"]

# Kapitan's module names, and the modules of this package that stand for them.
MODULES = {
    "kapitan.inputs.kadet": ".inputs.kadet",
    "kapitan.inputs.helm": ".inputs.helm",
    "kapitan.resources": ".resources",
    "kapitan.utils": ".utils",
    "kapitan.cached": ".cached",
    "kapitan.errors": ".errors",
}


def _kapitan_importable() -> bool:
    return "kapitan" in sys.modules or importlib.util.find_spec("kapitan") is not None


def _stub(name: str) -> types.ModuleType:
    module = types.ModuleType(name, "kcompile's stand-in for Kapitan, for kadet components")
    module.__path__ = []  # a package with nothing on disk: only the aliases import
    return module


@contextlib.contextmanager
def kapitan_alias() -> Iterator[None]:
    """Let kadet code import this package's modules by their Kapitan names, while a component runs.

    Only when no real ``kapitan`` is importable: then ``kapitan``,
    ``kapitan.inputs`` and every module of :data:`MODULES` are put in
    ``sys.modules`` for the run and taken out after it, so nothing outside
    a component run ever sees them, and a real Kapitan install is never
    shadowed.
    """
    if _kapitan_importable():
        yield
        return
    aliases: dict[str, types.ModuleType] = {"kapitan": _stub("kapitan"),
                                            "kapitan.inputs": _stub("kapitan.inputs")}
    for name, ours in MODULES.items():
        aliases[name] = importlib.import_module(ours, __name__)
    for name, module in aliases.items():
        parent, _, leaf = name.rpartition(".")
        if parent:
            setattr(aliases[parent], leaf, module)
    sys.modules.update(aliases)
    try:
        yield
    finally:
        for name, module in aliases.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
