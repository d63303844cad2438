"""Ref files and ref tags: files under refs/ no tag uses, and tags whose file does not exist."""

from __future__ import annotations

import os
from typing import Any

from ..inventory.native.classload import Entity
from ..inventory.native.node import value_at
from ..inventory.native.values import Flagged, Ref, Stack
from ..refs.tags import TAG_RE, Tag, TagSyntaxError, iter_strings, parse
from .findings import Finding
from .graph import Fleet, TargetGraph

MAX_TARGETS = 3


def _written_tags(ent: Entity) -> list[tuple[str, ...]]:
    """Key paths of an entity's parameters whose value as written holds ``?{``."""
    out = []

    def walk(tree: dict, prefix: tuple[str, ...]) -> None:
        for key, value in tree.items():
            path = (*prefix, key)
            if type(value) is Flagged:
                value = value.value
            if type(value) is dict:
                walk(value, path)
            elif "?{" in _text(value):
                out.append(path)

    walk(ent.parameters, ())
    return out


def _text(value: Any) -> str:
    if type(value) is Ref:
        return value.raw
    if type(value) is str:
        return value
    if type(value) in (list, Stack):
        return "".join(_text(v) for v in (value if type(value) is list else value.items))
    return ""


def tags_in(text: str) -> list[Tag]:
    """The valid ref tags in a string."""
    out = []
    for m in TAG_RE.finditer(text):
        try:
            out.append(parse(m))
        except TagSyntaxError:
            continue
    return out


def inventory_tags(fleet: Fleet) -> list[tuple[TargetGraph, Entity, tuple, Tag]]:
    """Every ref tag of every resolved target's parameters, with the write it came from.

    A tag starts as text some file wrote (references only copy it), so only
    the keys whose written value holds ``?{`` are looked at, in the final
    parameters; the last entity that wrote the key is where it came from.
    """
    written: dict[str, list[tuple[str, ...]]] = {}
    out = []
    for t in fleet.targets:
        if t.params is None:
            continue
        last: dict[tuple[str, ...], Entity] = {}
        for ent in t.entities:
            paths = written.get(ent.source.path)
            if paths is None:
                paths = written[ent.source.path] = _written_tags(ent)
            for path in paths:
                last[path] = ent
        for path, ent in last.items():
            for text in iter_strings(value_at(t.params, path)):
                if "?{" in text:
                    out.extend((t, ent, path, tag) for tag in tags_in(text))
    return out


def file_tags(paths: list[str]) -> set[str]:
    """Ref file paths of the tags written literally in input files (templates, components)."""
    found: set[str] = set()
    for path in paths:
        try:
            with open(path, encoding="utf-8") as fp:
                text = fp.read()
        except (OSError, UnicodeDecodeError):
            continue
        if "?{" in text:
            found.update(tag.file_path for tag in tags_in(text))
    return found


def _tag_file(text: str) -> str:
    return next(t.file_path for t in tags_in(text))


def ref_files(refs_path: str) -> list[str]:
    """Every ref file under ``refs_path``, relative to it, sorted (dot files skipped)."""
    out = []
    for root, dirs, files in os.walk(refs_path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in sorted(files):
            if not f.startswith("."):
                out.append(os.path.relpath(os.path.join(root, f), refs_path).replace(os.sep, "/"))
    return out


def ref_findings(fleet: Fleet, refs_path: str, input_files: list[str],
                 rules: frozenset[str]) -> list[Finding]:
    """unused-ref-file and missing-ref-file findings."""
    tags = inventory_tags(fleet)
    out: list[Finding] = []
    if "missing-ref-file" in rules:
        # one finding per place and missing file, naming the targets it breaks
        missing: dict[tuple[str, int, str], list[str]] = {}
        for t, ent, path, tag in tags:
            if tag.functions or tag.embedded or tag.vault:
                continue  # functions create the ref on compile; embedded tags carry it
            if not os.path.isfile(os.path.join(refs_path, tag.file_path)):
                src = ent.source
                place = (src.path, src.line_of("parameters", path), tag.text)
                missing.setdefault(place, []).append(t.name)
        for (where, line, text), names in missing.items():
            shown = ", ".join(names[:MAX_TARGETS]) + \
                (f" and {len(names) - MAX_TARGETS} more" if len(names) > MAX_TARGETS else "")
            out.append(Finding(where, line, "missing-ref-file",
                               f"{text}: no ref file {os.path.join(refs_path, _tag_file(text))} "
                               f"(target{'s' if len(names) > 1 else ''} {shown})"))
    if "unused-ref-file" in rules and os.path.isdir(refs_path):
        if any(t.params is None for t in fleet.targets):
            return out  # a target that does not resolve could use any ref
        used = {tag.file_path for *_, tag in tags} | file_tags(input_files)
        for rel in ref_files(refs_path):
            if rel not in used:
                out.append(Finding(os.path.join(refs_path, rel), 1, "unused-ref-file",
                                   f"ref file {rel} is used by no ref tag of the inventory "
                                   "or of the inputs"))
    return out
