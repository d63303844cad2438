"""YAML problems of the inventory's files, with their line: syntax, tabs, duplicate keys, indentation.

The engine's loader keeps the last of two equal keys without a word, as
PyYAML does; here each file is composed once more to see its nodes.
"""

from __future__ import annotations

import yaml

from ..yamlload import SafeLoader
from .findings import Finding


def _tabs(path: str, text: str) -> list[Finding]:
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            out.append(Finding(path, n, "yaml-tab", "tab in indentation (YAML indents with spaces)"))
    return out


class _Walker:
    """Collects duplicate keys and indentation steps of one composed file."""

    def __init__(self, path: str):
        self.path = path
        self.step = 0
        self.found: list[Finding] = []

    def node(self, node: yaml.Node, owner_col: int | None) -> None:
        """Check ``node`` and below; ``owner_col``: the column of the key it is the value of."""
        if isinstance(node, yaml.MappingNode):
            if not node.flow_style and node.value and owner_col is not None:
                self._indent(node.value[0][0].start_mark, owner_col, allow_zero=False)
            seen: dict[str, int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    line = key.start_mark.line + 1
                    if key.value in seen:
                        self.found.append(Finding(
                            self.path, line, "yaml-duplicate-key",
                            f"duplicate key {key.value!r} (first at line {seen[key.value]}; "
                            "the last one wins)"))
                    else:
                        seen[key.value] = line
                self.node(value, key.start_mark.column)
        elif isinstance(node, yaml.SequenceNode):
            if not node.flow_style and node.value and owner_col is not None:
                self._indent(node.start_mark, owner_col, allow_zero=True)
            for item in node.value:
                self.node(item, None)  # a "- " item's content starts after the dash

    def _indent(self, mark: yaml.Mark, owner_col: int, allow_zero: bool) -> None:
        delta = mark.column - owner_col
        if delta == 0 and allow_zero:
            return  # an indentless sequence under its key
        if delta <= 0:
            return  # not a block nested below its key (the parser would have refused it)
        if not self.step:
            self.step = delta
        elif delta != self.step:
            self.found.append(Finding(self.path, mark.line + 1, "yaml-indentation",
                                      f"indented by {delta} spaces; the rest of the file "
                                      f"indents by {self.step}"))


def lint_yaml_file(path: str) -> list[Finding]:
    """Every YAML problem of one file."""
    try:
        with open(path, encoding="utf-8") as fp:
            text = fp.read()
    except (OSError, UnicodeDecodeError) as exc:
        return [Finding(path, 0, "yaml-syntax", f"cannot read: {exc}")]
    found = _tabs(path, text)
    try:
        root = yaml.compose(text, Loader=SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark else 0
        if not any(f.line == line for f in found):  # a tab there already says why
            found.append(Finding(path, line, "yaml-syntax", problem))
        return found
    if root is not None:
        walker = _Walker(path)
        walker.node(root, None)
        found.extend(walker.found)
    return found
