"""Input types: each turns one compile item's input path into files in the output dir."""

from __future__ import annotations

from .base import InputType, TargetEnv


def get_input_type(name: str) -> InputType | None:
    """The implementation of an input type, or None when this release lacks it."""
    if name == "jinja2":
        from .jinja2 import Jinja2Input

        return Jinja2Input()
    if name == "copy":
        from .copy import CopyInput

        return CopyInput()
    return None


__all__ = ["InputType", "TargetEnv", "get_input_type"]
