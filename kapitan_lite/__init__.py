"""kapitan-lite: a fast, Kapitan-compatible inventory compiler."""

# The one place of the version: pyproject.toml reads it from here.
__version__ = "0.1.0"
# The Kapitan release whose output kcompile reproduces, byte for byte.
KAPITAN_VERSION = "0.36.3"
