"""What a set of inputs reads of a target's parameters: key paths, or everything.

A read of ``a.b`` covers every key below ``a.b`` (the whole value was used),
and a read of ``a.b.c`` where ``a.b`` is a leaf (a string's method, a list
item) covers ``a.b``. Readers record chains rooted at the inventory object
(``@inv``), which become parameter paths here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

INV = "@inv"  # the target's inventory object
GLOBAL = "@global"  # the whole inventory, indexed by target name
DICT_METHODS = frozenset({"items", "keys", "values", "get", "copy", "__contains__", "iteritems"})


@dataclass
class Reads:
    """Parameter paths read (keys as strings); ``everything`` when a reader took all of them."""

    paths: set[tuple[str, ...]] = field(default_factory=set)
    everything: bool = False

    def record(self, chain: tuple[str, ...]) -> None:
        """A chain used as a value: ``(@inv, parameters, a, b)`` is a read of ``a.b``."""
        if not chain or chain[0] != INV:
            return
        if len(chain) == 1 or (chain[1] == "parameters" and len(chain) == 2):
            self.everything = True
        elif chain[1] == "parameters":
            self.paths.add(chain[2:])

    def update(self, other: Reads) -> None:
        """Add another reader's reads."""
        self.paths |= other.paths
        self.everything = self.everything or other.everything


class ReadIndex:
    """Answers "is this key read?" for a set of reads."""

    def __init__(self, reads: Reads):
        self.everything = reads.everything
        self.reads = reads.paths
        self.through: set[tuple[str, ...]] = set()  # every prefix of a read
        for path in reads.paths:
            for n in range(len(path) + 1):
                self.through.add(path[:n])

    def unread_prefix(self, path: tuple[str, ...]) -> tuple[str, ...] | None:
        """The shortest prefix of ``path`` that nothing reads into or above; None if read."""
        if self.everything:
            return None
        for n in range(1, len(path) + 1):
            prefix = path[:n]
            if prefix in self.reads:
                return None  # the whole value at prefix was read
            if prefix not in self.through:
                return prefix  # no read goes this way
        return None  # reads go deeper than the leaf: it was read
