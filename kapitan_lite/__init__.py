"""kapitan-lite: a fast, Kapitan-compatible inventory compiler."""

__version__ = "0.1.0"
