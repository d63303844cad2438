"""Class and target files: found once, parsed once per run, turned into merge-ready trees.

YAML is read with PyYAML's safe loader (libyaml when present), so scalars
follow YAML 1.1 exactly as kapicorp-reclass reads them (``yes`` is
``True``, ``44945e09`` is a float, ``2020-01-01`` a date). Keys of
``parameters``/``exports`` mappings are processed as reclass's merge does:
turned into strings, and a leading ``~`` (override) or ``=`` (constant)
becomes a :class:`Flagged` value. Strings with ``${``/``$[`` become
:class:`Ref` values. Line numbers are not kept on the fast path; a file's
key-path-to-line table is built on first request (errors and ``explain``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import yaml

from ...errors import display_path
from ...yamlload import SafeLoader, YamlLoadError, load_yaml_file
from .merge import merge
from .refparse import RefSyntaxError, parse
from .values import MISSING, Flagged, Origin, Ref

EXTENSIONS = (".yml", ".yaml")


class LoadError(Exception):
    """A file that cannot be used: ``line`` is 1-based (0 when unknown)."""

    def __init__(self, path: str, line: int, message: str):
        super().__init__(message)
        self.path = path
        self.line = line
        self.message = message


class SourceFile:
    """One class or target file, and (lazily) the line of every key in it."""

    def __init__(self, path: str, name: str, kind: str, class_origins: list[int] | None = None):
        self.path = path
        self.name = name  # class name, or target name
        self.kind = kind  # "class" or "target"
        # With class wildcards: the written entry each expanded class came from.
        self.class_origins = class_origins
        self._lines: dict[tuple, int] | None = None

    @property
    def display(self) -> str:
        """The path as printed in messages."""
        return display_path(self.path)

    def line_of(self, section: str, path: tuple) -> int:
        """Line of ``section`` (``parameters``...) key path ``path``; the nearest ancestor's if absent."""
        if self._lines is None:
            self._lines = _line_table(self.path)
        key = (section, *path)
        while key:
            line = self._lines.get(key)
            if line:
                return line
            key = key[:-1]
        return self._lines.get((), 1)

    def entry_line(self, section: str, index: int) -> int:
        """Line of item ``index`` of a top-level list such as ``classes``."""
        if section == "classes" and self.class_origins is not None \
                and index < len(self.class_origins):
            index = self.class_origins[index]
        return self.line_of(section, (index,))

    def __repr__(self) -> str:
        return f"SourceFile({self.name!r})"


def _line_table(path: str) -> dict[tuple, int]:
    """Key path -> 1-based line, for every mapping key and list item of a file."""
    table: dict[tuple, int] = {(): 1}
    try:
        with open(path, encoding="utf-8") as fp:
            root = yaml.compose(fp, Loader=SafeLoader)
    except (OSError, yaml.YAMLError):
        return table

    def walk(node: yaml.Node, key: tuple) -> None:
        if isinstance(node, yaml.MappingNode):
            for knode, vnode in node.value:
                if not isinstance(knode, yaml.ScalarNode):
                    continue
                name = knode.value
                if key and name[:1] in ("~", "="):
                    name = name[1:]
                sub = (*key, name)
                table.setdefault(sub, knode.start_mark.line + 1)
                walk(vnode, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                sub = (*key, i)
                table.setdefault(sub, item.start_mark.line + 1)
                walk(item, sub)

    if root is not None:
        walk(root, ())
    return table


@dataclass
class Entity:
    """What one file contributes: classes, applications, parameters, exports, environment."""

    source: SourceFile
    classes: list[str] = field(default_factory=list)  # as declared, relative names made absolute
    applications: list[str] = field(default_factory=list)
    parameters: dict = field(default_factory=dict)
    exports: dict = field(default_factory=dict)
    environment: str | None = None
    mentions_reclass_meta: bool = False  # sets ``_reclass_`` itself (disables prefix reuse)


class TreeBuilder:
    """Builds merge-ready trees from the loaded YAML data of one file section."""

    def __init__(self, source: SourceFile, section: str):
        self.source = source
        self.section = section

    def string(self, text: str, path: tuple) -> Any:
        try:
            items = parse(text)
        except RefSyntaxError as exc:
            raise LoadError(self.source.path, self.source.line_of(self.section, path),
                            f"cannot parse {text!r}: {exc}") from None
        if items is None:
            return text
        if all(type(i) is str for i in items):
            return "".join(items)  # escapes only
        return Ref(items, text, Origin(self.source, path, self.section))

    def raw(self, value: Any, path: tuple) -> Any:
        """A value as reclass wraps it without merging: mapping keys kept as written."""
        t = type(value)
        if t is str:
            return self.string(value, path) if ("${" in value or "$[" in value) else value
        if t is list:
            return [self.raw(item, (*path, i)) for i, item in enumerate(value)]
        if t is dict:
            return {key: self.raw(item, (*path, str(key))) for key, item in value.items()}
        return value

    def structural(self, value: Any, path: tuple) -> Any:
        """A value as reclass merges it into a node: keys processed, flags applied."""
        if type(value) is not dict:
            return self.raw(value, path)
        out: dict = {}
        for key, item in value.items():
            key = str(key)
            if key[:1] in ("~", "="):
                name = key[1:]
                sub = (*path, name)
                raw = self.raw(item, sub)
                new: Any = Flagged(process(raw) if type(raw) is dict else raw, raw,
                                   key[0] == "~", key[0] == "=",
                                   Origin(self.source, sub, self.section))
            else:
                name = key
                t = type(item)
                if t is dict and type(out.get(name, out)) is not dict:
                    # Collides with a non-mapping written under ``~key``/``=key`` in
                    # this file: reclass stacks the mapping as written, keys unprocessed.
                    new = self.raw(item, (*path, name))
                elif t is dict:
                    new = self.structural(item, (*path, name))
                elif t is str:
                    new = self.string(item, (*path, name)) if ("${" in item or "$[" in item) else item
                elif t is list:
                    new = self.raw(item, (*path, name))
                else:
                    new = item
            cur = out.get(name, MISSING)
            out[name] = new if cur is MISSING else merge(cur, new)
        return out


def process(value: Any) -> Any:
    """A raw mapping as reclass's merge sees it: keys as strings, ``~``/``=`` keys flagged."""
    if type(value) is not dict:
        return value
    out: dict = {}
    for key, item in value.items():
        key = str(key)
        if key[:1] in ("~", "=") and type(item) is not Flagged:
            name = key[1:]
            new: Any = Flagged(process(item), item, key[0] == "~", key[0] == "=", None)
        else:
            name = key
            new = item if type(item) is dict and type(out.get(name, out)) is not dict \
                else process(item)
        cur = out.get(name, MISSING)
        out[name] = new if cur is MISSING else merge(cur, new)
    return out


def load_entity(source: SourceFile, classes: list[str] | None = None) -> Entity:
    """Parse one class or target file into an :class:`Entity`.

    ``classes``, when given, replaces the file's own ``classes:`` (their
    wildcards expanded, see ``inventory/wildcards.py``).
    """
    try:
        data = load_yaml_file(source.path)
    except YamlLoadError as exc:
        raise LoadError(source.path, exc.line, exc.message) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(source.path, 0, f"cannot read file: {exc}") from None
    entity = Entity(source)
    if data is None:
        return entity
    if not isinstance(data, dict):
        raise LoadError(source.path, 1, "a class or target file must be a mapping")
    entity.classes = _names(source, data.get("classes") if classes is None else classes, "classes")
    entity.applications = _names(source, data.get("applications"), "applications")
    for section in ("parameters", "exports"):
        value = data.get(section)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise LoadError(source.path, source.line_of(section, ()), f"{section} must be a mapping")
        setattr(entity, section, TreeBuilder(source, section).structural(value, ()))
    env = data.get("environment")
    entity.environment = None if env is None else str(env)
    entity.mentions_reclass_meta = "_reclass_" in entity.parameters
    entity.classes = absolute_names(source.name, entity.classes)
    return entity


def _names(source: SourceFile, value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise LoadError(source.path, source.line_of(what, ()), f"{what} must be a list")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise LoadError(source.path, source.entry_line(what, i),
                            f"{what} entries must be strings, got {item!r}")
        if what == "classes" and (" " in item or os.sep in item or not item):
            raise LoadError(source.path, source.entry_line(what, i), f"invalid class name {item!r}")
    return value


def absolute_names(owner: str, names: list[str]) -> list[str]:
    """Relative class names (``.x``, ``..x``) made absolute against the owner's *name*.

    As in reclass, ``.x`` in class ``a.b.c`` is ``a.b.x``; in ``app/init.yml``
    (class ``app``) it is the top-level ``x``.
    """
    out = []
    for name in names:
        if name.startswith("."):
            dots = len(name) - len(name.lstrip("."))
            parent = ".".join(owner.split(".")[:-dots])
            name = name[dots:] if parent == "" else parent + name[dots - 1:]
        out.append(name)
    return out


def index_classes(classes_dir: str) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """Class name -> file for every class file (``a/init.yml`` is class ``a``).

    Directories starting with ``.`` are skipped, as reclass does. The second
    value lists duplicates: (name, first file, second file).
    """
    found: dict[str, str] = {}
    dups: list[tuple[str, str, str]] = []
    for root, dirs, files in os.walk(classes_dir, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in ("CVS", "SCCS"))
        rel = os.path.relpath(root, classes_dir)
        parts = [] if rel in (".", "") else rel.split(os.sep)
        for f in sorted(files):
            stem, ext = os.path.splitext(f)
            if ext not in EXTENSIONS:
                continue
            name = ".".join(parts if stem == "init" and parts else [*parts, stem])
            path = os.path.join(root, f)
            if name in found:
                dups.append((name, found[name], path))
                continue
            found[name] = path
    return found, dups
