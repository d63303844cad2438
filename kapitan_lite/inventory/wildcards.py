"""Class wildcards (``--enable-class-wildcards``): glob patterns in ``classes:`` lists.

Kapitan 0.36's rules, reproduced: a class entry holding ``*``, ``?`` or
``[`` is a pattern, matched with :func:`fnmatch.fnmatchcase` against the full
dotted name of every class file under ``<inventory>/classes`` (``a/init.yml``
is ``a``, a top-level ``init.yml`` is ``init``; hidden files and directories
are skipped). A pattern is replaced in place by its matches in sorted order;
an entry that names an existing class, one that is not a pattern, and a
reference (``${...}``) stay as written; duplicates are dropped, the first kept.
Only files whose ``classes:`` hold a pattern are expanded, and a pattern that
matches nothing fails the run, in whichever file it is, used or not.

The native engine takes the expanded lists directly (:attr:`Expansion.classes`);
kapicorp-reclass and reclass-rs read a copy of the inventory in which those
files are rewritten, as Kapitan does (:func:`materialize`).
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..errors import Problem
from ..yamlload import SafeLoader, YamlLoadError, load_yaml

METACHARACTERS = frozenset("*?[")
EXTENSIONS = (".yml", ".yaml")


def is_pattern(entry: Any) -> bool:
    """Whether a class entry is a glob pattern (and not a reference)."""
    return (isinstance(entry, str) and any(c in METACHARACTERS for c in entry)
            and not is_reference(entry))


def is_reference(entry: Any) -> bool:
    """Whether a class entry looks like a reclass reference (``${x}``), never a pattern."""
    return isinstance(entry, str) and "${" in entry and "}" in entry


def class_names(classes_dir: str) -> list[str]:
    """Every class name under ``classes_dir``, sorted (Kapitan's discovery rule)."""
    found: set[str] = set()
    seen: set[str] = set()
    for root, dirs, files in os.walk(classes_dir, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:  # a symlink loop
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = os.path.relpath(root, classes_dir)
        parts = [] if rel in (".", "") else rel.split(os.sep)
        for name in files:
            stem, ext = os.path.splitext(name)
            if name.startswith(".") or ext not in EXTENSIONS:
                continue
            found.add(".".join(parts or ["init"]) if stem == "init" else ".".join([*parts, stem]))
    return sorted(found)


def expand(entries: list, available: list[str]) -> tuple[list[str], list[int], list[int]]:
    """``entries`` with each pattern replaced by its sorted matches, duplicates dropped.

    Non-string entries are dropped, as Kapitan does. The second value gives,
    for each name, the index of the entry it came from; the third lists the
    indexes of patterns that matched nothing.
    """
    known = set(available)
    out: list[str] = []
    origins: list[int] = []
    seen: set[str] = set()
    unmatched: list[int] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, str):
            continue
        if entry in known or not is_pattern(entry):
            names = [entry]
        else:
            names = [c for c in available if fnmatch.fnmatchcase(c, entry)]
            if not names:
                unmatched.append(i)
        for name in names:
            if name not in seen:
                seen.add(name)
                out.append(name)
                origins.append(i)
    return out, origins, unmatched


@dataclass
class Expansion:
    """The expanded ``classes:`` of every file that has a pattern, keyed by normalised path.

    ``origins`` gives, for each expanded name, the index of the entry it came
    from, so that errors name the line of that entry.
    """

    inventory_path: str
    classes: dict[str, list[str]] = field(default_factory=dict)
    origins: dict[str, list[int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    copy: str = ""  # the rewritten copy, once :func:`materialize` made it

    def original_paths(self, text: str) -> str:
        """``text`` (an engine's message) with paths into the copy made paths of the inventory."""
        if not self.copy:
            return text
        return text.replace(self.copy, os.path.abspath(self.inventory_path))

    def expanded(self, path: str) -> list[str] | None:
        """The expanded class list of a file, or None when it has no pattern."""
        return self.classes.get(os.path.normpath(path))

    def origin(self, path: str) -> list[int] | None:
        """For each name of :meth:`expanded`, the index of its entry in the file."""
        return self.origins.get(os.path.normpath(path))


def scan(inventory_path: str) -> Expansion:
    """Expand the patterns of every file under ``targets/`` and ``classes/``.

    A file that cannot be read or parsed is left to the engine, which reports it.
    """
    available = class_names(os.path.join(inventory_path, "classes"))
    result = Expansion(inventory_path)
    for path in _yaml_files(inventory_path):
        try:
            with open(path, "rb") as fp:
                raw = fp.read()
        except OSError:
            continue
        if not any(c.encode() in raw for c in METACHARACTERS):
            continue  # cheap: no pattern can be in this file
        try:
            data = load_yaml(raw)
        except YamlLoadError:
            continue
        entries = data.get("classes") if isinstance(data, dict) else None
        if not isinstance(entries, list) or not any(is_pattern(e) for e in entries):
            continue
        names, origins, unmatched = expand(entries, available)
        result.classes[os.path.normpath(path)] = names
        result.origins[os.path.normpath(path)] = origins
        lines = _entry_lines(raw) if unmatched else {}
        for i in unmatched:
            result.problems.append(Problem(path, lines.get(i, 0), "",
                                           f"class pattern {entries[i]!r} matches no class "
                                           "(--enable-class-wildcards)"))
    return result


def materialize(expansion: Expansion) -> str:
    """A copy of the inventory with each expanded file rewritten; the caller removes it.

    The rewritten files are dumped as Kapitan dumps them (``yaml.safe_dump``,
    keys in their order), so kapicorp-reclass and reclass-rs read what they
    read under Kapitan.
    """
    # Imported here: only the engines other than kcompile's own read a copy.
    import shutil
    import tempfile

    src = os.path.abspath(expansion.inventory_path)
    tmp = tempfile.mkdtemp(prefix="kcompile-wildcards-")
    dest = os.path.join(tmp, os.path.basename(src) or "inventory")
    shutil.copytree(src, dest, symlinks=True)
    _absolute_links(src, dest)
    for path, names in expansion.classes.items():
        copy = os.path.join(dest, os.path.relpath(os.path.abspath(path), src))
        with open(copy, "rb") as fp:
            data = load_yaml(fp.read())
        data["classes"] = names
        with open(copy, "w", encoding="utf-8") as fp:
            yaml.safe_dump(data, fp, sort_keys=False)
    expansion.copy = dest
    return dest


def remove(path: str) -> None:
    """Remove a copy made by :func:`materialize`."""
    import shutil

    shutil.rmtree(os.path.dirname(path), ignore_errors=True)


def _yaml_files(inventory_path: str) -> list[str]:
    out = []
    for sub in ("targets", "classes"):
        seen: set[str] = set()
        for root, dirs, files in os.walk(os.path.join(inventory_path, sub), followlinks=True):
            real = os.path.realpath(root)
            if real in seen:
                dirs[:] = []
                continue
            seen.add(real)
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            out.extend(os.path.join(root, f) for f in sorted(files)
                       if not f.startswith(".") and f.endswith(EXTENSIONS))
    return out


def _entry_lines(raw: bytes) -> dict[int, int]:
    """Index of each ``classes:`` item -> its 1-based line."""
    try:
        root = yaml.compose(raw, Loader=SafeLoader)
    except yaml.YAMLError:
        return {}
    if not isinstance(root, yaml.MappingNode):
        return {}
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "classes" \
                and isinstance(value, yaml.SequenceNode):
            return {i: item.start_mark.line + 1 for i, item in enumerate(value.value)}
    return {}


def _absolute_links(src: str, dest: str) -> None:
    """Relative symlinks that leave the copied tree point at the original's targets."""
    for root, dirs, files in os.walk(dest):
        for name in dirs + files:
            link = os.path.join(root, name)
            if not os.path.islink(link):
                continue
            target = os.readlink(link)
            if os.path.isabs(target) or os.path.exists(os.path.join(root, target)):
                continue
            original = os.path.join(src, os.path.relpath(root, dest), target)
            if os.path.exists(original):
                os.remove(link)
                os.symlink(os.path.normpath(original), link)
