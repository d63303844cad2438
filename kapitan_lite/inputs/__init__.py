"""Input types: each turns one compile item's input path into files in the output dir."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from .base import InputType, TargetEnv

# Input types this release implements: name -> (module, class). Modules load on
# first use, so an optional extra (kadet, jsonnet) is imported only when used.
# The plan rejects the other types Kapitan knows.
_TYPES: dict[str, tuple[str, str]] = {
    "jinja2": ("jinja2", "Jinja2Input"),
    "copy": ("copy", "CopyInput"),
    "kadet": ("kadet", "KadetInput"),
    "jsonnet": ("jsonnet", "JsonnetInput"),
    "helm": ("helm", "HelmInput"),
    "external": ("external", "ExternalInput"),
    "remove": ("remove", "RemoveInput"),
    "kustomize": ("kustomize", "KustomizeInput"),
    "cuelang": ("cuelang", "CuelangInput"),
}


def _factory(module: str, cls: str) -> Callable[[], InputType]:
    def make() -> InputType:
        return getattr(importlib.import_module(f".{module}", __name__), cls)()
    return make


REGISTRY: dict[str, Callable[[], InputType]] = {
    name: _factory(module, cls) for name, (module, cls) in _TYPES.items()
}


def get_input_type(name: str) -> InputType | None:
    """A new instance of an input type, or None when this release lacks it."""
    factory = REGISTRY.get(name)
    return factory() if factory else None


__all__ = ["REGISTRY", "InputType", "TargetEnv", "get_input_type"]
