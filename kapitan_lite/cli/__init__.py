"""The ``kcompile`` command line: parse, call the library, print, exit."""

from .main import cli, main

__all__ = ["cli", "main"]
