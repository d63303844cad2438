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
        try:
            return _load_streaming(text, loader, alias_limit())
        except _Unusual:
            return _load_composed(text, loader)
    except yaml.YAMLError as exc:
        line, message = yaml_error(exc, text)
        raise YamlLoadError(line, message) from None


class _Unusual(Exception):
    """A document the streaming loader leaves to PyYAML's own (merge keys, odd tags...)."""


_STR = "tag:yaml.org,2002:str"
_MAP_TAGS = (None, "!", "tag:yaml.org,2002:map")
_SEQ_TAGS = (None, "!", "tag:yaml.org,2002:seq")
_MERGE_TAGS = ("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value")
_NO_KEY: Any = object()


def _load_streaming(text: str | bytes, loader: type, limit: int) -> Any:
    """The document built straight from parser events, as PyYAML's safe loader builds it.

    PyYAML first composes the whole document into nodes, each with two marks,
    then constructs: 40 times the file's size in memory. Here every event
    goes into the data as it comes, and repeated mapping keys share one string.
    """
    helper = loader("")  # resolves and constructs scalars exactly as PyYAML does
    resolve = helper.resolve
    constructors = helper.yaml_constructors
    keys: dict[str, str] = {}
    anchors: dict[str, Any] = {}
    sizes: dict[str, int] = {}  # anchor -> nodes below it, aliases expanded
    # Open collections: [container, pending key (mappings), nodes so far, anchor].
    stack: list[list[Any]] = []
    added = 0
    root: Any = None
    documents = 0

    def put(value: Any, nodes: int) -> None:
        nonlocal root
        if not stack:
            root = value
            return
        top = stack[-1]
        top[2] += nodes
        container = top[0]
        if type(container) is list:
            container.append(value)
        elif top[1] is _NO_KEY:
            if type(value) in (dict, list):
                raise _Unusual("unhashable key")  # PyYAML's own words for it
            top[1] = value
        else:
            container[top[1]] = value
            top[1] = _NO_KEY

    events = yaml.events
    for ev in yaml.parse(text, Loader=loader):
        kind = type(ev)
        if kind is events.ScalarEvent:
            tag = ev.tag
            if tag is None or tag == "!":
                tag = resolve(yaml.ScalarNode, ev.value, ev.implicit)
            if tag == _STR:
                value: Any = ev.value
                if stack and stack[-1][1] is _NO_KEY and type(stack[-1][0]) is dict:
                    value = keys.setdefault(value, value)
            else:
                if tag in _MERGE_TAGS and stack and stack[-1][1] is _NO_KEY \
                        and type(stack[-1][0]) is dict:
                    raise _Unusual
                ctor = constructors.get(tag) or constructors[None]
                value = ctor(helper, yaml.ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark,
                                                     ev.style))
            if ev.anchor is not None:
                anchors[ev.anchor], sizes[ev.anchor] = value, 1
            put(value, 1)
        elif kind is events.MappingStartEvent or kind is events.SequenceStartEvent:
            is_map = kind is events.MappingStartEvent
            if ev.tag not in (_MAP_TAGS if is_map else _SEQ_TAGS):
                raise _Unusual
            container: Any = {} if is_map else []
            if ev.anchor is not None:
                anchors[ev.anchor] = container
            put(container, 0)
            stack.append([container, _NO_KEY, 1, ev.anchor])
        elif kind is events.MappingEndEvent or kind is events.SequenceEndEvent:
            _, _, nodes, anchor = stack.pop()
            if anchor is not None:
                sizes[anchor] = nodes
            if stack:
                stack[-1][2] += nodes
        elif kind is events.AliasEvent:
            if ev.anchor not in anchors:
                raise _Unusual("undefined alias")  # PyYAML's own words for it
            if ev.anchor not in sizes:
                raise YamlLoadError(ev.start_mark.line + 1, "recursive YAML alias")
            added += sizes[ev.anchor]
            if added > limit:
                raise YamlLoadError(ev.start_mark.line + 1, _too_many(limit))
            put(anchors[ev.anchor], sizes[ev.anchor])
        elif kind is events.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise _Unusual("documents")  # PyYAML's own words for it
    return root


def _too_many(limit: int) -> str:
    return (f"YAML aliases expand to more than {limit} nodes "
            f"(the alias limit; set {ALIAS_LIMIT_ENV} to raise it)")


def _load_composed(text: str | bytes, loader: type) -> Any:
    """PyYAML's own load (compose, then construct), aliases checked first."""
    if not (("&" in text) if isinstance(text, str) else (b"&" in text)):
        return yaml.load(text, Loader=loader)
    # Only anchored documents can alias: check their expansion first.
    ldr = loader(text)
    try:
        node = ldr.get_single_node()
        if node is None:
            return None
        check_aliases(node, alias_limit())
        return ldr.construct_document(node)
    finally:
        ldr.dispose()


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
                raise YamlLoadError(where.start_mark.line + 1, _too_many(limit))
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
