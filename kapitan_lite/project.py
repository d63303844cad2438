"""The project: where its root is, and the settings a run uses."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .inventory.engine import DEFAULT_ENGINE


def find_root(start: str, inventory_path: str = "inventory") -> str:
    """The project root: the nearest directory, from ``start`` upwards, holding
    ``.kapitan`` or the inventory. Kapitan itself only looks at the current
    directory; looking upwards also lets ``kcompile`` run from a subdirectory.
    """
    if os.path.isabs(inventory_path):
        return os.path.abspath(start)
    here = os.path.abspath(start)
    while True:
        if os.path.isfile(os.path.join(here, ".kapitan")) or os.path.isdir(
            os.path.join(here, inventory_path)
        ):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            return os.path.abspath(start)
        here = parent


@dataclass(frozen=True)
class Settings:
    """Everything a compile needs to know besides the inventory itself.

    Paths are relative to the project root, which is the working directory
    during a run (as Kapitan's are relative to its working directory).
    """

    root: str
    inventory_path: str = "inventory"
    output_path: str = "."
    refs_path: str = "refs"
    search_paths: tuple[str, ...] = (".", "lib")
    jinja2_filters: str = os.path.join("lib", "jinja2_filters.py")
    backend: str = DEFAULT_ENGINE
    parallelism: int = 0
    compose_target_name: bool = False
    class_wildcards: bool = False  # --enable-class-wildcards
    reveal: bool = False
    embed_refs: bool = False
    identities: tuple[str, ...] = ()  # age identity files (--identity)
    cache: bool = True
    verbose: bool = False
    debug: bool = False
    # How generated objects are written (-i, -L, --yaml-dump-null-as-empty).
    indent: int = 2
    yaml_multiline_string_style: str = "literal"
    yaml_dump_null_as_empty: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def compiled_dir(self) -> str:
        """Where compiled output lives: ``<output-path>/compiled``."""
        return os.path.join(self.output_path, "compiled")

    def workers(self, jobs: int) -> int:
        """Processes to use for ``jobs`` targets: ``-p``, else one per CPU."""
        if self.parallelism > 0:
            return max(1, min(self.parallelism, jobs))
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            cpus = os.cpu_count() or 1
        return max(1, min(cpus, jobs))

    def kapitan_args(self) -> dict[str, Any]:
        """These settings under the names of ``kapitan compile``'s options (its ``cached.args``)."""
        return {
            "name": "compile",
            "search_paths": list(self.search_paths),
            "jinja2_filters": self.jinja2_filters,
            "inventory_path": self.inventory_path,
            "output_path": self.output_path,
            "refs_path": self.refs_path,
            "reveal": self.reveal,
            "embed_refs": self.embed_refs,
            "indent": self.indent,
            "parallelism": self.parallelism or None,
            "verbose": self.verbose,
            "compose_target_name": self.compose_target_name,
            "enable_class_wildcards": self.class_wildcards,
            "yaml_multiline_string_style": self.yaml_multiline_string_style,
            "yaml_dump_null_as_empty": self.yaml_dump_null_as_empty,
            "prune": False,
            "cache": False,
            "fetch": False,
            "force_fetch": False,
            "validate": False,
            "yaml_use_rapidyaml": False,
            "use_go_jsonnet": False,
            "ignore_version_check": False,
        }
