"""unread-parameter: parameters that no template, kadet component or reference reads.

Reads are collected from every input the fleet compiles: Jinja2 templates
(with what they import and include) and kadet modules, from their syntax
trees, and every ``${...}`` reference of every merged file. Jsonnet,
``external`` and other inputs can read anything without it being seen, so
the parameters of targets that compile them are not judged: the run's notes
say how many.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import jinja2

from ..inputs.jinja2 import template_files
from ..inventory.native.classload import Entity
from ..inventory.native.refparse import split_path
from ..inventory.native.values import Flagged, Query, Ref, RefPath, Stack
from .findings import Finding
from .graph import Fleet
from .overrides import Write
from .reads import ReadIndex, Reads
from .reads_jinja import template_reads
from .reads_kadet import module_reads

SEEN_TYPES = ("jinja2", "kadet", "copy", "remove", "helm")  # reads we see (or that read nothing)
EXEMPT = ("kapitan", "_reclass_")  # read by kcompile itself


@dataclass
class InputScan:
    """What the fleet's inputs read, and which inputs hide their reads."""

    reads: Reads = field(default_factory=Reads)
    files: list[str] = field(default_factory=list)  # every input file looked at
    hidden: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # target -> inputs
    whole: list[str] = field(default_factory=list)  # inputs that use all the parameters at once


def _find(path: str, search_paths: tuple[str, ...]) -> str | None:
    for base in search_paths:
        cand = os.path.normpath(os.path.join(base, path))
        if os.path.exists(cand):
            return cand
    return None


def _source(f: str, scan: InputScan, done: set[str]) -> str | None:
    """An input file's text, the first time it is asked for (None after, or if unreadable)."""
    if f in done:
        return None
    done.add(f)
    scan.files.append(f)
    try:
        with open(f, encoding="utf-8") as fp:
            return fp.read()
    except (OSError, UnicodeDecodeError):
        return None


def _jinja(path: str, search_paths: tuple[str, ...], scan: InputScan, done: set[str]) -> None:
    for _, file in template_files(path):
        todo = [file]
        while todo:
            text = _source(todo.pop(), scan, done)
            if text is None:
                continue
            try:
                reads, imported = template_reads(text)
            except jinja2.TemplateSyntaxError:
                continue  # compile says what is wrong with it
            _add(scan, reads, scan.files[-1])
            for name in imported:
                got = _find(name, (os.path.dirname(file), *search_paths))
                if got and os.path.isfile(got):
                    todo.append(got)


def _kadet(path: str, scan: InputScan, done: set[str]) -> None:
    files = [path] if os.path.isfile(path) else [
        os.path.join(root, f) for root, dirs, fs in sorted(os.walk(path))
        for f in sorted(fs) if f.endswith(".py")]
    for f in files:
        text = _source(f, scan, done)
        if text is None:
            continue
        try:
            _add(scan, module_reads(text, f), f)
        except SyntaxError:
            continue


def _add(scan: InputScan, reads: Reads, path: str) -> None:
    scan.reads.update(reads)
    if reads.everything:
        scan.whole.append(path)


def scan_inputs(fleet: Fleet, search_paths: tuple[str, ...]) -> InputScan:
    """Read every input the fleet's targets compile, once each."""
    scan = InputScan()
    done: set[str] = set()
    seen_items: set[tuple[str, str]] = set()
    for t in fleet.targets:
        items = ((t.params or {}).get("kapitan") or {}).get("compile") or []
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            kind = str(item.get("input_type"))
            for raw in item.get("input_paths") or []:
                if kind not in SEEN_TYPES:
                    scan.hidden[t.name].add(f"{kind} {raw}")
                    continue
                if (kind, str(raw)) in seen_items:
                    continue
                seen_items.add((kind, str(raw)))
                path = _find(str(raw), search_paths)
                if path is None:
                    continue
                if kind == "jinja2":
                    _jinja(path, search_paths, scan, done)
                elif kind == "kadet":
                    _kadet(path, scan, done)
    return scan


def _ref_paths(node: Any, out: Reads) -> None:
    """The keys the references in a merge-tree value read."""
    t = type(node)
    if t is Ref:
        for item in node.items:
            if type(item) is RefPath:
                _refpath(item, out)
    elif t is Flagged:
        _ref_paths(node.value, out)
    elif t is Stack:
        for item in node.items:
            _ref_paths(item, out)
    elif t is dict:
        for v in node.values():
            _ref_paths(v, out)
    elif t is list:
        for v in node:
            _ref_paths(v, out)
    elif t is Query:
        return


def _refpath(ref: RefPath, out: Reads) -> None:
    if ref.static is not None:
        text = ref.static.split("::", 1)[0]
        out.paths.add(tuple(split_path(text)))
        return
    lead = ""
    for item in ref.items:
        if type(item) is not str:
            break
        lead += item
    for item in ref.items:
        if type(item) is RefPath:
            _refpath(item, out)
    parts = split_path(lead)[:-1] if lead else []
    if parts:
        out.paths.add(tuple(parts))  # the rest of the key is computed: all below is read
    else:
        out.everything = True


def reference_reads(entities: list[Entity]) -> Reads:
    """The keys every ``${...}`` in these entities reads."""
    reads = Reads()
    for ent in entities:
        _ref_paths(ent.parameters, reads)
        _ref_paths(ent.exports, reads)
    return reads


def unread_findings(fleet: Fleet, writes: dict[str, tuple[Entity, list[Write]]],
                    scan: InputScan) -> tuple[list[Finding], list[str]]:
    """unread-parameter findings, and the notes on what could not be judged."""
    reads = Reads()
    reads.update(scan.reads)
    reads.update(reference_reads([e for e, _ in writes.values()]))
    index = ReadIndex(reads)
    hidden_in: Counter = Counter()  # entity path -> targets with hidden reads that merge it
    for t in fleet.targets:
        if t.name in scan.hidden:
            for ent in t.entities:
                hidden_in[ent.source.path] += 1
    out: list[Finding] = []
    skipped = 0
    for key, (ent, ws) in writes.items():
        for w in ws:
            if w.replaces_only or w.path[0] in EXEMPT:
                continue
            prefix = index.unread_prefix(w.path)
            if prefix is None:
                continue
            if hidden_in[key]:
                skipped += 1
                continue
            src = ent.source
            out.append(Finding(src.path, src.line_of("parameters", prefix), "unread-parameter",
                               f"{':'.join(prefix)} is read by no template, kadet component "
                               "or reference"))
    notes = []
    if scan.whole:
        notes.append(f"unread-parameter: {', '.join(sorted(scan.whole))} use(s) the whole "
                     "inventory object, so every parameter counts as read")
    if scan.hidden:
        kinds = sorted({k for ks in scan.hidden.values() for k in ks})
        notes.append(f"unread-parameter: {len(scan.hidden)} target(s) compile inputs whose reads "
                     f"can't be seen ({', '.join(kinds)}); {skipped} parameter(s) they merge "
                     "were not judged")
    return out, notes
