"""YAML loading with libyaml when available (YAML 1.1, as PyYAML reads it), bounded and located.

Every YAML file kcompile reads as data goes through :func:`load_yaml`:

* Alias expansion is bounded. YAML aliases share one node, but whoever walks
  the loaded data (merging, interpolation, output) visits it once per alias,
  so ten nested anchors of nine make billions of nodes out of a few hundred
  bytes. A document whose aliases would add more than the alias limit of
  nodes (:data:`DEFAULT_ALIAS_LIMIT`; ``KCOMPILE_YAML_ALIAS_LIMIT`` sets
  another) is refused, as is a recursive alias.
* Errors are located and one line: :func:`yaml_error` gives the line where
  the bad token starts and the parser's own words.
"""

from __future__ import annotations

import os
from typing import Any

import yaml

try:
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader  # type: ignore[assignment]

# Nodes that aliases may add to one document: far above what anchors for
# shared defaults need, far below what exhausts memory.
DEFAULT_ALIAS_LIMIT = 100_000
ALIAS_LIMIT_ENV = "KCOMPILE_YAML_ALIAS_LIMIT"


class YamlLoadError(Exception):
    """A YAML document that can't be used: ``line`` is 1-based (0 when unknown)."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message  # "YAML syntax error: <the parser's words>"
        self.detail = message.partition(": ")[2] or message  # the parser's words


def alias_limit() -> int:
    """The alias expansion limit: ``KCOMPILE_YAML_ALIAS_LIMIT`` when set, else the default."""
    raw = os.environ.get(ALIAS_LIMIT_ENV, "")
    try:
        return max(0, int(raw)) if raw else DEFAULT_ALIAS_LIMIT
    except ValueError:
        return DEFAULT_ALIAS_LIMIT


def load_yaml(text: str | bytes, loader: type = SafeLoader) -> Any:
    """Parse one YAML document; raise :class:`YamlLoadError` (located, one line) if it is bad."""
    try:
        if ("&" in text) if isinstance(text, str) else (b"&" in text):
            # Only anchored documents can alias: check their expansion first.
            ldr = loader(text)
            try:
                node = ldr.get_single_node()
                if node is not None:
                    check_aliases(node, alias_limit())
                return ldr.construct_document(node) if node is not None else None
            finally:
                ldr.dispose()
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        line, message = yaml_error(exc, text)
        raise YamlLoadError(line, message) from None


def load_yaml_file(path: str) -> Any:
    """Parse one YAML file (see :func:`load_yaml`)."""
    with open(path, "rb") as fp:
        return load_yaml(fp.read())


def check_aliases(root: yaml.Node, limit: int) -> None:
    """Refuse a node graph whose aliases expand to more than ``limit`` extra nodes, or loop."""
    sizes: dict[int, int] = {}  # node id -> nodes below it, itself included, aliases expanded
    added = 0

    def size(node: yaml.Node, where: yaml.Node) -> int:
        nonlocal added
        key = id(node)
        known = sizes.get(key)
        if known is not None:
            if known < 0:
                raise YamlLoadError(where.start_mark.line + 1, "recursive YAML alias")
            added += known  # an alias: its whole subtree again
            if added > limit:
                raise YamlLoadError(
                    where.start_mark.line + 1,
                    f"YAML aliases expand to more than {limit} nodes "
                    f"(the alias limit; set {ALIAS_LIMIT_ENV} to raise it)")
            return known
        sizes[key] = -1
        total = 1
        if isinstance(node, yaml.MappingNode):
            for knode, vnode in node.value:
                total += size(knode, knode) + size(vnode, knode)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                total += size(item, item if id(item) not in sizes else node)
        sizes[key] = total
        return total

    try:
        size(root, root)
    except RecursionError:
        raise YamlLoadError(root.start_mark.line + 1, "YAML nested too deeply") from None


def yaml_error(exc: yaml.YAMLError, text: str | bytes | None = None) -> tuple[int, str]:
    """The 1-based line where the bad token starts, and a one-line message, for a YAML error.

    The parser marks where it noticed the problem. For a quoted scalar left
    open, that is where the next quote closed it, lines later, or the end of
    the file; the opening quote is where the mistake is.
    """
    if not isinstance(exc, yaml.MarkedYAMLError):
        return 0, f"YAML error: {' '.join(str(exc).split())}"
    problem = exc.problem or exc.context or "invalid YAML"
    context = exc.context or ""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 0
    if exc.context_mark is not None and context.startswith("while scanning a quoted scalar"):
        line = exc.context_mark.line + 1
    elif text is not None and exc.problem_mark is not None:
        start = _open_quote_before(text, exc.problem_mark)
        if start:
            line = start
    syntax = isinstance(exc, yaml.scanner.ScannerError | yaml.parser.ParserError)
    return line, f"YAML {'syntax ' if syntax else ''}error: {' '.join(problem.split())}"


def _open_quote_before(text: str | bytes, mark: yaml.Mark) -> int:
    """The start line of a multi-line quoted scalar that ends just before ``mark``, else 0."""
    last = None
    try:
        for token in yaml.scan(text, Loader=SafeLoader):
            if (token.start_mark.line, token.start_mark.column) >= (mark.line, mark.column):
                break
            last = token
    except yaml.YAMLError:
        pass
    if (isinstance(last, yaml.ScalarToken) and last.style in ('"', "'")
            and last.start_mark.line < last.end_mark.line):
        return last.start_mark.line + 1
    return 0
