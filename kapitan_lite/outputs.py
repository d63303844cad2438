"""Deterministic serialisers, byte-identical to Kapitan 0.36.3's output.

YAML: ``yaml.dump(obj, Dumper=<SafeDumper with indented block lists>,
indent=2, default_flow_style=False)``: sorted keys, width 80, non-ASCII
escaped, multi-line strings in the chosen style. A list becomes one document
per element. JSON: ``json.dumps(obj, indent=2, sort_keys=True)`` without a
trailing newline. TOML: the ``toml`` package's output.

YAML is written by :class:`~kapitan_lite.yaml_emitter.YamlWriter`, which
gives the bytes of the PyYAML pipeline (``dump_yaml_reference``) many times
faster, and falls back to that pipeline for what it does not write itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

import yaml

from .yaml_emitter import Unsupported, YamlWriter

MULTILINE_STYLES = {"literal": "|", "folded": ">", "double-quotes": '"'}
DEFAULT_MULTILINE_STYLE = "literal"


class _IndentedListDumper(yaml.SafeDumper):
    """SafeDumper that indents block sequences under their parent key."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


@cache
def yaml_dumper(style: str | None = DEFAULT_MULTILINE_STYLE, null_as_empty: bool = False) -> type:
    """Return the dumper class for a multi-line string style (``None``: PyYAML's default)."""
    style_char = MULTILINE_STYLES.get(style) if style else None

    def represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
        if style_char is not None and "\n" in data:
            return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style_char)
        return dumper.represent_scalar("tag:yaml.org,2002:str", data)

    def represent_none(dumper: yaml.SafeDumper, _data: None) -> yaml.ScalarNode:
        return dumper.represent_scalar("tag:yaml.org,2002:null", "" if null_as_empty else "null")

    cls = type(f"KapitanDumper_{style or 'default'}_{int(null_as_empty)}", (_IndentedListDumper,), {})
    cls.add_representer(str, represent_str)
    cls.add_representer(type(None), represent_none)
    return cls


def yaml_writer(indent: int | None = 2, style: str | None = DEFAULT_MULTILINE_STYLE,
                null_as_empty: bool = False) -> YamlWriter:
    """A fast writer with the output of :func:`yaml_dumper` for these options."""
    style_char = MULTILINE_STYLES.get(style) if style else None
    return YamlWriter(yaml_dumper(style, null_as_empty), indent=indent,
                      multiline_style=style_char, null="" if null_as_empty else "null")


def _one_document(obj: Any) -> bool:
    # A mapping (or a scalar) is one document; a list or tuple is one per element.
    return isinstance(obj, Mapping) or not isinstance(obj, list | tuple)


def dump_yaml(obj: Any, indent: int = 2, style: str | None = DEFAULT_MULTILINE_STYLE,
              null_as_empty: bool = False) -> str:
    """Serialise ``obj`` as Kapitan writes a yaml/yml output file.

    A mapping is one document; a list is one document per element. A bare
    string is one document (Kapitan splits it into one document per
    character, a bug we do not copy). Byte for byte what
    :func:`dump_yaml_reference` gives, which it falls back to for what the
    fast writer does not write itself.
    """
    writer = yaml_writer(indent, style, null_as_empty)
    try:
        return writer.dump(obj) if _one_document(obj) else writer.dump_all(obj)
    except Unsupported:
        return dump_yaml_reference(obj, indent, style, null_as_empty)


def dump_yaml_reference(obj: Any, indent: int = 2, style: str | None = DEFAULT_MULTILINE_STYLE,
                        null_as_empty: bool = False) -> str:
    """:func:`dump_yaml` with PyYAML's own pipeline: slow, and the definition of right."""
    dump = yaml.dump if _one_document(obj) else yaml.dump_all
    return dump(obj, Dumper=yaml_dumper(style, null_as_empty), indent=indent,
                default_flow_style=False)


def dump_json(obj: Any, indent: int = 2) -> str:
    """Serialise ``obj`` as Kapitan writes a json output file (no trailing newline)."""
    return json.dumps(obj, indent=indent, sort_keys=True)


def dump_toml(obj: Any) -> str:
    """Serialise ``obj`` as Kapitan writes a toml output file."""
    import toml  # only for toml outputs; its import costs a worker some 3 ms

    return toml.dumps(obj)


def dump_plain(obj: Any) -> str:
    """Plain output: the string as it is."""
    if not isinstance(obj, str):
        raise TypeError(f"plain output needs a string, got {type(obj).__name__}")
    return obj


def dump_inventory_yaml(obj: Any) -> str:
    """YAML as ``kapitan inventory`` prints it: sorted, indented lists, default string style."""
    return "".join(dump_inventory_yaml_chunks(obj))


def dump_inventory_yaml_chunks(obj: Any) -> list[str]:
    """:func:`dump_inventory_yaml` in pieces, to write one after the other."""
    try:
        return yaml_writer(None, None).dump_chunks((obj,))
    except Unsupported:
        return [dump_inventory_yaml_reference(obj)]


def dump_inventory_yaml_reference(obj: Any) -> str:
    """:func:`dump_inventory_yaml` with PyYAML's own pipeline."""
    return yaml.dump(obj, Dumper=yaml_dumper(None), default_flow_style=False)


OUTPUT_TYPES = ("yml", "yaml", "json", "toml", "plain")


def serialise(obj: Any, output_type: str, indent: int = 2, style: str | None = None,
              null_as_empty: bool = False) -> str:
    """Serialise ``obj`` for an output type: yml, yaml, json, toml or plain."""
    if output_type in ("yml", "yaml"):
        return dump_yaml(obj, indent=indent, style=style or DEFAULT_MULTILINE_STYLE,
                         null_as_empty=null_as_empty)
    if output_type == "json":
        return dump_json(obj, indent=indent)
    if output_type == "toml":
        return dump_toml(obj)
    if output_type == "plain":
        return dump_plain(obj)
    raise ValueError(f"unknown output type {output_type!r}")
