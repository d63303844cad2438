"""The Kubernetes objects of one compiled file: its YAML (or JSON) documents, parsed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from ..yamlload import SafeLoader, YamlLoadError, alias_limit, check_aliases, yaml_error

_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class Document:
    """One document of a file: the object, and its node (with line marks) when it was YAML."""

    obj: Any
    node: yaml.Node | None = None


class _Unusual(Exception):
    """A document with merge keys: PyYAML's own constructor reads it."""


def _build(node: yaml.Node, scalars: SafeConstructor) -> Any:
    """The Python value of a composed node, as PyYAML's safe loader makes it.

    Strings, mappings and lists (nearly all of a manifest) are built here,
    other scalars by PyYAML's constructor: this skips most of the
    constructor's bookkeeping, which is most of the cost of loading.
    """
    tag = node.tag
    if tag == _STR:
        return node.value
    if tag == _MAP:
        out = {}
        for knode, vnode in node.value:
            if knode.tag == _MERGE:
                raise _Unusual
            out[_build(knode, scalars)] = _build(vnode, scalars)
        return out
    if tag == _SEQ:
        return [_build(item, scalars) for item in node.value]
    return scalars.construct_object(node, deep=True)


def load_documents(data: bytes, is_json: bool = False) -> list[Document]:
    """Every non-empty document of a YAML stream (or a JSON file); :class:`YamlLoadError` if bad."""
    if is_json:
        try:
            return [Document(json.loads(data))]
        except (ValueError, UnicodeDecodeError):
            pass  # a .json file that is YAML after all: read it as YAML
    try:
        nodes = [n for n in yaml.compose_all(data, Loader=SafeLoader) if n is not None]
        if b"*" in data and b"&" in data:  # aliases: bounded, as every YAML kcompile reads
            for node in nodes:
                check_aliases(node, alias_limit())
        scalars = SafeConstructor()
        docs = []
        for node in nodes:
            try:
                obj = _build(node, scalars)
            except (_Unusual, RecursionError):
                obj = SafeConstructor().construct_document(node)
            docs.append(Document(obj, node))
        return [d for d in docs if d.obj is not None]
    except yaml.YAMLError as exc:
        line, message = yaml_error(exc, data)
        raise YamlLoadError(line, message) from None


def is_object(obj: Any) -> bool:
    """Whether a document is a Kubernetes object (a mapping with apiVersion and kind)."""
    return (isinstance(obj, dict) and isinstance(obj.get("apiVersion"), str)
            and isinstance(obj.get("kind"), str))


def object_name(obj: dict[str, Any]) -> str:
    """``Kind/namespace/name``, or ``Kind/name`` for an object without a namespace."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    parts = [obj["kind"], str(meta.get("namespace") or ""), str(meta.get("name") or "?")]
    return "/".join(p for p in parts if p)
