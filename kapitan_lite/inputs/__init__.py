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


# Input types this release implements; the others Kapitan knows are rejected by the plan.
REGISTRY: dict[str, Callable[[], InputType]] = {"jinja2": _jinja2, "copy": _copy}


def get_input_type(name: str) -> InputType | None:
    """A new instance of an input type, or None when this release lacks it."""
    factory = REGISTRY.get(name)
    return factory() if factory else None


__all__ = ["REGISTRY", "InputType", "TargetEnv", "get_input_type"]
