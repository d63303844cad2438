"""YAML loading with libyaml when available (YAML 1.1, as PyYAML reads it)."""

from __future__ import annotations

from typing import Any

import yaml

try:
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader  # type: ignore[assignment]


def load_yaml_file(path: str) -> Any:
    """Parse one YAML file."""
    with open(path, encoding="utf-8") as fp:
        return yaml.load(fp, Loader=SafeLoader)
