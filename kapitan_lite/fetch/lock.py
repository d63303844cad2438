"""``kcompile.lock``: what each dependency resolved to, so every fetch gets the same content.

The file is YAML at the project root, written sorted so that a change reads
well in review::

    version: 1
    dependencies:
    - type: git
      source: https://github.com/kapicorp/generators.git
      ref: main
      pin:
        commit: 0123abcd...

One entry per dependency, keyed by its type, source and the keys that
select content (git ``ref``; helm ``chart_name`` and ``version``; oci
``media_type``), with the pin its fetcher returned. It is data only: read
with ``yaml.safe_load``, its shape checked, a bad file a located error.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import yaml

from ..errors import Problem, UserError
from .base import Dependency, Pin

FILE = "kcompile.lock"
VERSION = 1
HEADER = ("# kcompile.lock: what each dependency resolved to; written by `kcompile fetch`,\n"
          "# moved forward by `kcompile fetch --update`. Commit it.\n")
# The keys of each type that choose which content the source gives.
SELECTORS: dict[str, tuple[str, ...]] = {
    "git": ("ref",), "http": (), "https": (), "helm": ("chart_name", "version"),
    "oci": ("media_type",),
}

Key = tuple[str, str, tuple[tuple[str, str], ...]]


def key_of(dep: Dependency) -> Key:
    """The lock entry that pins ``dep``."""
    selectors = tuple((k, str(dep.options[k])) for k in SELECTORS.get(dep.type, ())
                      if dep.options.get(k) is not None)
    return dep.type, dep.source, selectors


class Lock:
    """The entries of a lock file, by key."""

    def __init__(self, entries: dict[Key, Pin] | None = None):
        self.entries: dict[Key, Pin] = dict(entries or {})

    def get(self, dep: Dependency) -> Pin | None:
        """The pin recorded for ``dep``, if any."""
        return self.entries.get(key_of(dep))

    def set(self, dep: Dependency, pin: Pin) -> None:
        """Record ``pin`` for ``dep``."""
        self.entries[key_of(dep)] = dict(pin)

    def keep_only(self, keys: set[Key]) -> None:
        """Drop the entries of dependencies no longer declared."""
        self.entries = {k: v for k, v in self.entries.items() if k in keys}

    def dump(self) -> str:
        """The file's text: entries sorted by key, keys in a fixed order."""
        entries = []
        for (kind, source, selectors), pin in sorted(self.entries.items()):
            entry: dict[str, Any] = {"type": kind, "source": source}
            entry.update(dict(selectors))
            entry["pin"] = {k: pin[k] for k in sorted(pin)}
            entries.append(entry)
        body = yaml.safe_dump({"version": VERSION, "dependencies": entries},
                              sort_keys=False, default_flow_style=False, width=1000)
        return HEADER + body

    def save(self, path: str) -> bool:
        """Write the file if its text changed (atomically); return whether it was written."""
        text = self.dump()
        try:
            with open(path, encoding="utf-8") as fp:
                if fp.read() == text:
                    return False
        except OSError:
            pass
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".kcompile-lock-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fp:
                fp.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return True


def load(path: str) -> Lock | None:
    """The lock at ``path``, or None when there is none; :class:`UserError` when it is bad."""
    try:
        with open(path, encoding="utf-8") as fp:
            text = fp.read()
    except FileNotFoundError:
        return None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise UserError.of(f"invalid YAML: {getattr(exc, 'problem', exc)}", path,
                           mark.line + 1 if mark else 0) from None
    problems: list[Problem] = []
    lock = Lock()

    def bad(n: yaml.Node | None, message: str) -> None:
        problems.append(Problem(path, n.start_mark.line + 1 if n is not None else 1, "", message))

    top = _mapping(node)
    if top is None:
        bad(node, "must be a mapping with version and dependencies")
        raise UserError(problems)
    version = top.get("version")
    if version is None or version[1].value != str(VERSION):
        bad(version[1] if version else node,
            f"version must be {VERSION} (this kcompile reads lock version {VERSION})")
    unknown = sorted(set(top) - {"version", "dependencies"})
    for key in unknown:
        bad(top[key][0], f"unknown key {key!r}")
    deps = top.get("dependencies")
    if deps is None or not isinstance(deps[1], yaml.SequenceNode):
        bad(deps[1] if deps else node, "dependencies must be a list")
        raise UserError(problems)
    for item in deps[1].value:
        entry = _mapping(item)
        if entry is None:
            bad(item, "each dependency must be a mapping")
            continue
        kind = _scalar(entry.get("type"))
        source = _scalar(entry.get("source"))
        if kind not in SELECTORS:
            bad(item, f"unknown dependency type {kind!r}")
            continue
        if not source:
            bad(item, "dependency without source")
            continue
        allowed = {"type", "source", "pin", *SELECTORS[kind]}
        for key in sorted(set(entry) - allowed):
            bad(entry[key][0], f"unknown key {key!r} for a {kind} dependency")
        pin_node = entry.get("pin")
        pin_map = _mapping(pin_node[1]) if pin_node else None
        if not pin_map or not all(_scalar(v) for _, v in pin_map.values()):
            bad(pin_node[1] if pin_node else item, "pin must be a mapping of non-empty strings")
            continue
        selectors = tuple((k, _scalar(entry[k])) for k in SELECTORS[kind]
                          if k in entry and _scalar(entry[k]))
        key: Key = (kind, source, selectors)
        if key in lock.entries:
            bad(item, f"{kind} {source} is listed twice")
            continue
        lock.entries[key] = {k: str(_scalar(v)) for k, (_, v) in pin_map.items()}
    if problems:
        raise UserError(problems)
    return lock


def _mapping(node: Any) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
    """A mapping node's entries by key text, or None if it is not a mapping of scalar keys."""
    if not isinstance(node, yaml.MappingNode):
        return None
    out = {}
    for k, v in node.value:
        if not isinstance(k, yaml.ScalarNode):
            return None
        out[k.value] = (k, v)
    return out


def _scalar(entry: Any) -> str | None:
    """The text of a scalar node (or of a ``(key, value)`` pair's value), else None."""
    node = entry[1] if isinstance(entry, tuple) else entry
    if isinstance(node, yaml.ScalarNode) and node.tag != "tag:yaml.org,2002:null":
        return node.value
    return None
