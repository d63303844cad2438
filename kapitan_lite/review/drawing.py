"""Graphs as text that draws itself: Mermaid (GitHub and GitLab markdown) and Graphviz dot.

A :class:`Drawing` is nodes and edges in the order they are to be written;
both renderings keep that order, so the same graph gives the same bytes.
Mermaid ids are ``t0``, ``c1``, ``f2`` ... (always valid) and every label is
quoted, with the characters Mermaid would read (``"``, ``<``, ``>``, ``#``)
written as its entity codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Mermaid shapes and dot attributes by node kind.
_MERMAID_SHAPES = {"target": ('(["', '"])'), "class": ('["', '"]'), "file": ('[/"', '"/]')}
_DOT_ATTRS = {"target": 'shape=ellipse, style=filled, fillcolor="#dbeafe"',
              "class": "shape=box",
              "file": 'shape=note, style=filled, fillcolor="#fef3c7"'}
_MERMAID_ESCAPES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;"}


@dataclass(frozen=True)
class Node:
    """One node: ``key`` is unique in its drawing, ``kind`` one of target, class, file."""

    key: str
    label: str
    kind: str


@dataclass
class Drawing:
    """Nodes and edges (``(from key, to key, label)``), in writing order."""

    nodes: list[Node] = field(default_factory=list)
    edges: list[tuple[str, str, str]] = field(default_factory=list)
    note: str = ""  # said under the graph (what was left out)


def _mermaid_text(text: str) -> str:
    return "".join(_MERMAID_ESCAPES.get(ch, ch) for ch in text.replace("\n", " "))


def to_mermaid(drawing: Drawing, fenced: bool = True) -> str:
    """The drawing as a Mermaid flowchart (in a ```` ```mermaid ```` block when ``fenced``)."""
    ids: dict[str, str] = {}
    lines = ["flowchart LR"]
    for i, node in enumerate(drawing.nodes):
        ids[node.key] = f"{node.kind[0]}{i}"
        start, end = _MERMAID_SHAPES[node.kind]
        lines.append(f"  {ids[node.key]}{start}{_mermaid_text(node.label)}{end}")
    for src, dst, label in drawing.edges:
        if not label:
            arrow = "-->"
        elif label.isalnum():
            arrow = f"-->|{label}|"
        else:
            arrow = f'-->|"{_mermaid_text(label)}"|'

        lines.append(f"  {ids[src]} {arrow} {ids[dst]}")
    text = "\n".join(lines) + "\n"
    return f"```mermaid\n{text}```\n" if fenced else text


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(drawing: Drawing, name: str = "inventory") -> str:
    """The drawing as a Graphviz ``digraph``."""
    lines = [f"digraph {_dot_text(name)} {{", "  rankdir=LR;",
             '  node [fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9];']
    for node in drawing.nodes:
        lines.append(f"  {_dot_text(node.key)} [label={_dot_text(node.label)}, "
                     f"{_DOT_ATTRS[node.kind]}];")
    for src, dst, label in drawing.edges:
        attrs = f" [label={_dot_text(label)}]" if label else ""
        lines.append(f"  {_dot_text(src)} -> {_dot_text(dst)}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"
