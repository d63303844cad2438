"""Parameter reads of kadet components, from their Python syntax tree.

Chains rooted at ``inventory()`` (``kadet.inventory()``) or at a name
assigned one (``p = inv.parameters``) are reads; ``.get("k")`` reads ``k``;
a chain used whole (passed to a call, iterated) reads everything below it.
"""

from __future__ import annotations

import ast

from .reads import DICT_METHODS, GLOBAL, INV, Reads


class _Visitor:
    def __init__(self, reads: Reads):
        self.reads = reads
        self.aliases: dict[str, tuple[str, ...]] = {}

    def chain(self, node: ast.AST) -> tuple[str, ...] | None:
        """The inventory path ``node`` stands for (``(@inv, parameters, ...)``), or None."""
        if isinstance(node, ast.Call) and not node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else \
                func.id if isinstance(func, ast.Name) else ""
            if name == "inventory":
                return (INV,)
            if name == "inventory_global":
                return (GLOBAL,)
            return None
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.chain(node.value)
            if base is None or base == (GLOBAL,):
                return None
            return (*base, node.attr)
        if isinstance(node, ast.Subscript):
            base = self.chain(node.value)
            if base == (GLOBAL,):
                return (INV,)
            if base is None or not isinstance(node.slice, ast.Constant):
                return None
            return (*base, str(node.slice.value))
        return None

    def visit(self, node: ast.AST) -> None:
        """Record the reads of ``node`` and below."""
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            got = self.chain(node.value)
            if got is not None:
                self.aliases[node.targets[0].id] = got
                return
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in DICT_METHODS:
            base = self.chain(node.func.value)
            if base is not None:
                if node.func.attr == "get" and node.args and isinstance(node.args[0], ast.Constant):
                    self.reads.record((*base, str(node.args[0].value)))
                else:
                    self.reads.record(base)
                for child in [*node.args, *node.keywords]:
                    self.visit(child)
                return
        if isinstance(node, ast.Name | ast.Attribute | ast.Subscript | ast.Call):
            got = self.chain(node)
            if got is not None:
                if not (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)):
                    self.reads.record(got)
                return
        for child in ast.iter_child_nodes(node):
            self.visit(child)


def module_reads(source: str, filename: str) -> Reads:
    """A Python module's reads. Raises ``SyntaxError`` for a module that does not parse."""
    reads = Reads()
    _Visitor(reads).visit(ast.parse(source, filename))
    return reads
