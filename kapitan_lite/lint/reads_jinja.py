"""Parameter reads of Jinja2 templates, from their syntax tree (as ``jinja2.meta`` finds names).

``{% set p = inventory.parameters %}`` makes ``p`` an alias; ``p.webapp.port``
is then a read of ``webapp.port``. A chain used whole (passed to a filter or
a macro, iterated, printed) reads everything below it. Templates a template
imports or includes by a constant name are read too.
"""

from __future__ import annotations

import jinja2
from jinja2 import nodes

from .reads import DICT_METHODS, GLOBAL, INV, Reads

_ENV = jinja2.Environment(extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"])


class _Visitor:
    def __init__(self, reads: Reads):
        self.reads = reads
        self.aliases: dict[str, tuple[str, ...]] = {}
        self.templates: list[str] = []

    def chain(self, node: nodes.Node) -> tuple[str, ...] | None:
        """The inventory path ``node`` stands for (``(@inv, parameters, ...)``), or None."""
        if isinstance(node, nodes.Name):
            if node.name == "inventory":
                return (INV,)
            if node.name == "inventory_global":
                return (GLOBAL,)
            return self.aliases.get(node.name)
        if isinstance(node, nodes.Getattr):
            base = self.chain(node.node)
            if base is None or base == (GLOBAL,):
                return None
            return (*base, node.attr)
        if isinstance(node, nodes.Getitem):
            base = self.chain(node.node)
            if base == (GLOBAL,):
                return (INV,)  # inventory_global[any target]
            if base is None or not isinstance(node.arg, nodes.Const):
                return None
            return (*base, str(node.arg.value))
        return None

    def visit(self, node: nodes.Node) -> None:
        """Record the reads of ``node`` and below."""
        if isinstance(node, nodes.Assign) and isinstance(node.target, nodes.Name):
            got = self.chain(node.node)
            if got is not None:
                self.aliases[node.target.name] = got
                return
        if isinstance(node, nodes.Import | nodes.FromImport | nodes.Include) \
                and isinstance(node.template, nodes.Const):
            self.templates.append(str(node.template.value))
        if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr) \
                and node.node.attr in DICT_METHODS:
            base = self.chain(node.node.node)
            if base is not None:
                if node.node.attr == "get" and node.args and isinstance(node.args[0], nodes.Const):
                    self.reads.record((*base, str(node.args[0].value)))
                else:
                    self.reads.record(base)
                for child in [*node.args, *node.kwargs]:
                    self.visit(child)
                return
        if isinstance(node, nodes.Name | nodes.Getattr | nodes.Getitem):
            got = self.chain(node)
            if got is not None:
                self.reads.record(got)
                return
        for child in node.iter_child_nodes():
            self.visit(child)


def template_reads(source: str) -> tuple[Reads, list[str]]:
    """A template's reads, and the names of the templates it imports or includes.

    Raises ``jinja2.TemplateSyntaxError`` for a template that does not parse.
    """
    reads = Reads()
    visitor = _Visitor(reads)
    visitor.visit(_ENV.parse(source))
    return reads, visitor.templates
