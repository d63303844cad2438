"""The one small interface every input type implements."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..compile.deps import Deps
from ..compile.staged import StagedTarget
from ..refs.compiler import TagCompiler


@dataclass(frozen=True)
class OutputOptions:
    """How generated objects are serialised (``--indent``, ``-L``, ``--yaml-dump-null-as-empty``)."""

    indent: int = 2
    multiline_string_style: str = "literal"
    null_as_empty: bool = False


@dataclass
class TargetEnv:
    """What an input type may use while compiling one target."""

    name: str
    inventory: dict[str, Any]  # this target: {parameters, classes, applications, exports}
    inventory_global: Mapping[str, Any]  # every target, resolved on demand
    search_paths: list[str]
    tags: TagCompiler
    jinja2_filters_path: str
    reveal: bool = False
    deps: Deps = field(default_factory=Deps)  # what this target reads, for the cache
    output: OutputOptions = field(default_factory=OutputOptions)
    output_root: str = ""  # this target's directory in the compiled output being built
    bytecode_dir: str | None = None  # where compiled templates are shared between processes
    staged: StagedTarget | None = None  # in-memory output, for input types with in_memory
    # The compile options under Kapitan's argument names (kadet's kapitan.cached.args).
    compile_args: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


class InputError(Exception):
    """A located problem in an input (template file and line)."""

    def __init__(self, message: str, path: str = "", line: int = 0, tag: str = "",
                 ref: str = ""):
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.tag = tag  # the ref tag at fault, if any: its source is looked up later
        # Inventory text to locate the problem by (e.g. the item's input path),
        # for problems that lie in the compile item rather than in a file.
        self.ref = ref


class InputErrors(Exception):
    """Several located problems of one input path (every broken template of a directory)."""

    def __init__(self, errors: list[InputError]):
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


class InputType(Protocol):
    """Compiles one resolved input path of a compile item into ``out_dir``.

    An input type that records everything it reads in ``env.deps`` sets
    ``tracks_deps = True``; targets using any other input type are never
    taken from the incremental cache.
    """

    tracks_deps: bool
    # True: writes through ``env.staged`` only. Otherwise the target's output
    # so far is put on disk in ``out_dir``'s tree first and read back after.
    in_memory: bool

    def compile(self, item: dict[str, Any], input_path: str, out_dir: str, env: TargetEnv) -> None:
        """Write this input's files below ``out_dir``; raise :class:`InputError` on bad input."""
        ...


def with_target_full_path(target: dict[str, Any], name: str) -> dict[str, Any]:
    """A target's inventory as Kapitan's generators see it by name.

    Kapitan fills ``kapitan.target_full_path`` in after templates and kadet's
    ``inventory()`` took their copy of the inventory, but before Jsonnet's
    (and ``kapitan.resources``') ``inventory(target)`` read a target: they see
    it set, templates and kadet see ``''``.
    """
    kapitan = dict(target["parameters"]["kapitan"])
    kapitan["target_full_path"] = name.replace(".", "/")
    return {**target, "parameters": {**target["parameters"], "kapitan": kapitan}}


def item_ref(item: dict[str, Any]) -> str:
    """The inventory text an item's problems are located by: its first input path."""
    return item["input_paths"][0] if item.get("input_paths") else ""


def require_directory(item: dict[str, Any], input_path: str, what: str) -> str:
    """The item's :func:`item_ref`; :class:`InputError` unless ``input_path`` is a directory.
    ``what`` (the input type) starts the message.
    """
    ref = item_ref(item)
    if not os.path.isdir(input_path):
        raise InputError(f"{what} {os.path.normpath(input_path)}: not a directory", ref=ref)
    return ref
