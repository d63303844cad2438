"""Kapitan's ``.kapitan`` defaults file: option defaults per command, and a version pin.

``.kapitan`` is YAML in the project root::

    version: 0.36              # the Kapitan version the project is pinned to
    global:
      inventory-path: ./inventory
    compile:
      indent: 4
      search-paths: [., lib, vendor]

As in Kapitan, an option's default is looked up in the command's section
(``compile``, ``inventory``), then in ``global``; an option given on the
command line wins over both. Keys are Kapitan's long option names. Options
Kapitan has but kcompile does not need (``cache``, ``prune``,
``use-go-jsonnet``...) are accepted and ignored; ``fetch: true`` fetches
dependencies before each compile, as in Kapitan.

The version pin must match Kapitan 0.36.3, which kcompile reproduces, part
by part as far as the pin goes (``0.36`` matches), as Kapitan checks it
against itself. The pin is read as written: ``version: 0.30`` is ``0.30``
(Kapitan reads the float ``0.3``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from . import KAPITAN_VERSION
from .errors import Problem, UserError
from .inventory.engine import engine_problem

FILE = ".kapitan"


def _str(value: Any) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError("must be a string")
    return str(value)


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("must be an integer")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        raise ValueError("must be a list")
    return tuple(_str(v) for v in value)


def _backend(value: Any) -> str:
    name = _str(value)
    problem = engine_problem(name)
    if problem:
        raise ValueError(problem)
    return name


def _style(value: Any) -> str:
    if value not in ("literal", "folded", "double-quotes"):
        raise ValueError("must be literal, folded or double-quotes")
    return value


# Kapitan option name -> (option key in kcompile, converter).
OPTIONS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "inventory-path": ("inventory_path", _str),
    "output-path": ("output_path", _str),
    "refs-path": ("refs_path", _str),
    "search-paths": ("search_paths", _list),
    "jinja2-filters": ("jinja2_filters", _str),
    "inventory-backend": ("backend", _backend),
    "compose-target-name": ("compose_target_name", _bool),
    "compose-node-name": ("compose_target_name", _bool),
    "enable-class-wildcards": ("class_wildcards", _bool),
    "parallelism": ("parallelism", _int),
    "verbose": ("verbose", _bool),
    "indent": ("indent", _int),
    "yaml-multiline-string-style": ("yaml_multiline_string_style", _style),
    "yaml-dump-null-as-empty": ("yaml_dump_null_as_empty", _bool),
    "ignore-version-check": ("ignore_version_check", _bool),
    "reveal": ("reveal", _bool),
    "embed-refs": ("embed_refs", _bool),
    "targets": ("targets", _list),
    "fetch": ("fetch", _bool),
    "force-fetch": ("force_fetch", _bool),
    "force": ("force", _bool),
    "labels": ("labels", _list),
}
# Kapitan options that change the output in ways kcompile does not support yet:
# refused when turned on, rather than silently compiling something else.
UNSUPPORTED: dict[str, str] = {}
# Kapitan reads some options from their own section rather than the command's.
SECTIONS = {"inventory-backend": "inventory_backend", "compose-target-name": "global",
            "enable-class-wildcards": "inventory_backend"}


def _load(path: str) -> tuple[dict[str, Any], dict[str, int]]:
    """The file as data, and the line of each ``section.key`` (``version`` at top level)."""
    import yaml  # only a project with a .kapitan file needs it

    with open(path, encoding="utf-8") as fp:
        text = fp.read()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise UserError.of(f"invalid YAML: {getattr(exc, 'problem', exc)}", path,
                           mark.line + 1 if mark else 0) from exc
    if data is None:
        return {}, {}
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise UserError.of("must be a mapping of sections", path, 1)
    lines: dict[str, int] = {}
    for key, value in node.value:
        lines[key.value] = key.start_mark.line + 1
        if key.value == "version":
            data["version"] = value.value  # as written, not as a YAML float
        if isinstance(value, yaml.MappingNode):
            for sub, _ in value.value:
                lines[f"{key.value}.{sub.value}"] = sub.start_mark.line + 1
    return data, lines


def section(root: str, name: str) -> tuple[dict[str, Any], dict[str, int], str]:
    """Section ``name`` of ``root/.kapitan`` (empty when absent), the line of each of its
    keys, and the file's path as messages show it."""
    path = os.path.join(root, FILE)
    if not os.path.isfile(path):
        return {}, {}, path
    data, lines = _load(path)
    block = data.get(name)
    if block is None:
        block = {}
    if not isinstance(block, dict):
        raise UserError.of(f"{name} must be a mapping", os.path.relpath(path), lines.get(name, 0))
    prefix = name + "."
    return block, {k[len(prefix):]: v for k, v in lines.items() if k.startswith(prefix)}, \
        os.path.relpath(path)


def version_matches(pinned: str, actual: str = KAPITAN_VERSION) -> bool:
    """Kapitan's check: every dotted part of the pin equals the version's, as far as both go."""
    return all(a == b for a, b in zip(pinned.replace("-rc", "").split("."),
                                      actual.replace("-rc", "").split("."), strict=False))


def apply(root: str, command: str, opts: dict[str, Any]) -> dict[str, Any]:
    """``opts`` with the options not given on the command line taken from ``root/.kapitan``.

    Raises :class:`UserError` for a bad value or a version pin that does not match.
    """
    path = os.path.join(root, FILE)
    if not os.path.isfile(path):
        return opts
    data, lines = _load(path)
    shown = os.path.relpath(path)
    merged = dict(opts)
    problems: list[Problem] = []
    for name, (key, convert) in OPTIONS.items():
        if merged.get(key) not in (None, ()):
            continue  # given on the command line
        for section in (SECTIONS.get(name, command), "global"):
            block = data.get(section)
            if isinstance(block, dict) and name in block:
                try:
                    merged[key] = convert(block[name])
                except ValueError as exc:
                    problems.append(Problem(shown, lines.get(f"{section}.{name}", 0), "",
                                            f"{section}.{name} {exc}"))
                break
    for name, what in UNSUPPORTED.items():
        for section in (command, "global"):
            block = data.get(section)
            if isinstance(block, dict) and block.get(name):
                problems.append(Problem(shown, lines.get(f"{section}.{name}", 0), "",
                                        f"{section}.{name}: {what} is not supported yet"))
    pinned = data.get("version")
    if pinned not in (None, "") and not merged.get("ignore_version_check") \
            and not version_matches(str(pinned)):
        problems.append(Problem(shown, lines.get("version", 0), "",
                                f"version {pinned} is pinned, but kcompile reproduces Kapitan "
                                f"{KAPITAN_VERSION}: update the pin, or pass "
                                "--ignore-version-check"))
    if problems:
        raise UserError(problems)
    return merged
