"""Input types: each turns one compile item's input path into files in the output dir."""

from __future__ import annotations

from collections.abc import Callable

from .base import InputType, TargetEnv


def _jinja2() -> InputType:
    from .jinja2 import Jinja2Input

    return Jinja2Input()


def _copy() -> InputType:
    from .copy import CopyInput

    return CopyInput()


def _kadet() -> InputType:
    from .kadet import KadetInput

    return KadetInput()


def _jsonnet() -> InputType:
    from .jsonnet import JsonnetInput

    return JsonnetInput()


def _helm() -> InputType:
    from .helm import HelmInput

    return HelmInput()


def _external() -> InputType:
    from .external import ExternalInput

    return ExternalInput()


def _remove() -> InputType:
    from .remove import RemoveInput

    return RemoveInput()


# Input types this release implements; the others Kapitan knows are rejected by the plan.
REGISTRY: dict[str, Callable[[], InputType]] = {
    "jinja2": _jinja2, "copy": _copy, "kadet": _kadet, "jsonnet": _jsonnet, "helm": _helm,
    "external": _external, "remove": _remove,
}


def get_input_type(name: str) -> InputType | None:
    """A new instance of an input type, or None when this release lacks it."""
    factory = REGISTRY.get(name)
    return factory() if factory else None


__all__ = ["REGISTRY", "InputType", "TargetEnv", "get_input_type"]
