"""The line in a YAML file of a field named by its path in one of the file's documents."""

from __future__ import annotations

from collections.abc import Sequence

import yaml


def line_of(node: yaml.Node | None, path: Sequence[str | int]) -> int:
    """The 1-based line of ``path`` in a document's node: the deepest part of it that exists.

    A key's own line for a mapping entry (the field that is wrong), an item's
    line for a list entry, the document's first line for ``()``; 0 without a
    node (a JSON file).
    """
    if node is None:
        return 0
    line = node.start_mark.line + 1
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for knode, vnode in node.value:
                if knode.value == str(part):
                    line, node = knode.start_mark.line + 1, vnode
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) \
                and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line
