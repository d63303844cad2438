"""``kapitan.errors``: the exception types kadet code raises and catches."""

from __future__ import annotations


class KapitanError(Exception):
    """Base of every Kapitan error."""


class CompileError(KapitanError):
    """A component cannot produce its output."""


class InventoryError(KapitanError):
    """The inventory is missing or wrong."""


class HelmTemplateError(KapitanError):
    """``helm template`` failed."""
