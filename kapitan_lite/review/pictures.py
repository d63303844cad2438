"""What the pictures show: an inventory's class graph, and how far a change reaches.

They become :class:`~.drawing.Drawing` s; :mod:`.drawing` writes them out.
"""

from __future__ import annotations

from ..inventory.native.classgraph import ClassGraph
from .affected import Affected
from .drawing import Drawing, Node

CHANGE_EDGES_MAX = 40  # a picture, not a listing: the table and details say the rest


def class_picture(graph: ClassGraph, targets: list[str] | None = None) -> Drawing:
    """Targets (sorted), then the classes they reach (sorted); an edge from each to
    the classes it includes, labelled with their order (1 is merged first)."""
    names = sorted(graph.targets if targets is None else targets)
    classes = graph.reachable(names)
    drawing = Drawing()
    drawing.nodes += [Node(f"target:{n}", n, "target") for n in names]
    drawing.nodes += [Node(f"class:{c}", c, "class") for c in classes]
    for n in names:
        drawing.edges += [(f"target:{n}", f"class:{c}", str(i))
                          for i, c in enumerate(graph.targets[n].includes, 1)]
    for c in classes:
        drawing.edges += [(f"class:{c}", f"class:{inc}", str(i))
                          for i, inc in graph.class_includes.get(c, [])]
    return drawing


def change_picture(reach: Affected, changed: list[str],
                   max_edges: int = CHANGE_EDGES_MAX) -> Drawing:
    """Changed source files, then the changed classes among them, then the targets
    ``changed`` whose output did change; a target read through ``inventory_global``
    points at its readers. At most ``max_edges`` edges (the first, in sorted order)."""
    edges: set[tuple[str, str, str]] = set()
    for t in changed:
        for path in reach.causes.get(t, []):
            cls = reach.classes.get(path)
            if cls is None:
                edges.add((f"file:{path}", f"target:{t}", ""))
            else:
                edges.update({(f"file:{path}", f"class:{cls}", ""),
                              (f"class:{cls}", f"target:{t}", "")})
        if t in reach.reads:
            edges.add((f"target:{reach.reads[t]}", f"target:{t}", "inventory_global"))
    rank = {"file": 0, "class": 1, "target": 2}
    ordered = sorted(edges, key=lambda e: (rank[e[0].split(":", 1)[0]], e))
    kept = ordered[:max_edges]
    keys = sorted({k for src, dst, _ in kept for k in (src, dst)},
                  key=lambda k: (rank[k.split(":", 1)[0]], k))
    drawing = Drawing(nodes=[Node(k, k.split(":", 1)[1], k.split(":", 1)[0]) for k in keys],
                      edges=kept)
    if len(ordered) > len(kept):
        drawing.note = f"{len(ordered) - len(kept)} more links not drawn"
    return drawing
