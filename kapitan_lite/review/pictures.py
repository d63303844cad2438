"""What the pictures show: an inventory's class graph, and how far a change reaches.

They become :class:`~.drawing.Drawing` s; :mod:`.drawing` writes them out.
"""

from __future__ import annotations

from ..inventory.native.classgraph import ClassGraph
from .drawing import Drawing, Node


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
