"""Which dependencies a fetch brings in: those of the selected targets, validated and located.

Each target's resolved ``parameters.kapitan.dependencies`` is checked against
Kapitan 0.36.3's model (``kapitan/inventory/model/dependencies.py``): the
type's keys only, each of its type, ``source`` and ``output_path`` required.
Every problem names the inventory file and line of the dependency. As in
Kapitan, ``output_path`` is relative to ``--output-path``, and a second
dependency with the same source and the same output path is skipped. Unlike
Kapitan, an output path outside the project root is an error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem
from ..inventory.locate import Locator
from .base import Dependency

_BOOL = (bool,)
_STR = (str,)
_OPT_STR = (str, type(None))
_OPT_BOOL = (bool, type(None))
# type -> {key: accepted Python types}, as Kapitan's pydantic model reads them.
_KEYS: dict[str, dict[str, tuple[type, ...]]] = {
    "git": {"ref": _OPT_STR, "subdir": _OPT_STR, "submodules": _OPT_BOOL},
    "http": {"unpack": _BOOL},
    "https": {"unpack": _BOOL},
    "helm": {"chart_name": _STR, "version": _OPT_STR, "helm_path": _OPT_STR},
    "oci": {"subpath": _OPT_STR, "media_type": _OPT_STR, "insecure": _BOOL,
            "tls_verify": (bool, str)},
}
_COMMON = {"type": _STR, "source": _STR, "output_path": _STR, "force_fetch": _OPT_BOOL}
_REQUIRED = {"source", "output_path"}
_REQUIRED_BY_TYPE = {"helm": {"chart_name"}}
_TYPE_NAMES = {bool: "true or false", str: "a string", type(None): "null"}


@dataclass(frozen=True)
class Planned:
    """One dependency to fetch, and where it goes (relative to the project root)."""

    dep: Dependency
    dest: str


@dataclass
class FetchPlan:
    """The dependencies of a run, and the problems found while listing them."""

    items: list[Planned]
    problems: list[Problem]
    # Problems of targets that did not resolve (a compile reports them itself).
    unresolved: list[Problem] = field(default_factory=list)
    # Targets with a dependency that sets force_fetch: their dependencies are always forced.
    force_targets: set[str] = field(default_factory=set)


def validate(raw: Any) -> list[str]:
    """What is wrong with one dependency mapping, as Kapitan's model would reject it."""
    if not isinstance(raw, Mapping):
        return [f"a dependency must be a mapping, got {raw!r}"]
    kind = raw.get("type")
    if kind not in _KEYS:
        return [f"unknown dependency type {kind!r} (expected {', '.join(sorted(_KEYS))})"]
    allowed = {**_COMMON, **_KEYS[kind]}
    errors = [f"unknown key {key!r} for a {kind} dependency"
              for key in raw if key not in allowed]
    for key in sorted(_REQUIRED | _REQUIRED_BY_TYPE.get(kind, set())):
        if raw.get(key) in (None, ""):
            errors.append(f"{kind} dependency without {key}")
    for key, types in allowed.items():
        value = raw.get(key)
        if key in raw and value is not None and not isinstance(value, types):
            want = " or ".join(_TYPE_NAMES[t] for t in types if t is not type(None))
            errors.append(f"{key} must be {want}, got {value!r}")
    if kind == "oci" and isinstance(raw.get("source"), str):
        for prefix in ("https://", "http://", "oci://"):
            if raw["source"].startswith(prefix):
                errors.append(f"oci source must be a registry reference (ghcr.io/org/repo:tag), "
                              f"not a URL: remove {prefix!r}")
    media = raw.get("media_type")
    if kind == "oci" and isinstance(media, str) and "/" not in media:
        errors.append(f"media_type {media!r} is not a MIME type (type/subtype)")
    return errors


def inside(root: str, path: str) -> bool:
    """Whether ``path`` (relative to ``root``, or absolute) lies inside ``root``."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(root, path))
    return real == real_root or real.startswith(real_root + os.sep)


def make_plan(targets: Mapping[str, Mapping[str, Any]], locators: Mapping[str, Locator],
              output_path: str, root: str) -> FetchPlan:
    """The dependencies of ``targets`` (name -> resolved target), in order, de-duplicated.

    ``locators`` finds each target's inventory lines. A dependency is fetched
    once per source and output path, as Kapitan does; the first declaration
    wins.
    """
    items: list[Planned] = []
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for name, target in targets.items():
        kapitan = target["parameters"].get("kapitan") or {}
        deps = kapitan.get("dependencies") or []
        locator = locators[name]
        for raw in deps:
            path, line = locate(locator, target, raw)
            errors = validate(raw)
            if errors:
                problems.extend(Problem(path, line, name, f"dependency: {e}") for e in errors)
                continue
            dep = Dependency(
                type=raw["type"], source=raw["source"], output_path=raw["output_path"],
                options={k: raw.get(k) for k in _KEYS[raw["type"]]},
                force_fetch=bool(raw.get("force_fetch")), target=name, path=path, line=line)
            dest = os.path.normpath(os.path.join(output_path, dep.output_path))
            if os.path.isabs(dest) or not inside(root, dest) or dest == ".":
                problems.append(Problem(path, line, name,
                                        f"dependency {dep.describe()}: output_path "
                                        f"{dep.output_path} is outside the project"))
                continue
            if (dep.source, dest) in seen:
                continue
            seen.add((dep.source, dest))
            items.append(Planned(dep, dest))
    return FetchPlan(items, problems)


def locate(locator: Locator, target: Mapping[str, Any], raw: Any) -> tuple[str, int]:
    """The inventory file and line of the list item that declares dependency ``raw``.

    Looks for its ``source:`` in the target file, then in the target's class
    files; a source built from references falls back to the
    ``dependencies:`` key, then to the target file.
    """
    files = [locator.target_file]
    for cls in target.get("classes") or []:
        found = locator.class_file(cls)
        if found and found not in files:
            files.append(found)
    source = raw.get("source") if isinstance(raw, Mapping) else None
    if isinstance(source, str) and source:
        pat = re.compile(r"^(?P<lead>\s*(?:-\s+)?)source\s*:\s*['\"]?" + re.escape(source)
                         + r"['\"]?\s*(?:#.*)?$")
        out = raw.get("output_path")
        out_pat = re.compile(r"^\s*(?:-\s+)?output_path\s*:\s*['\"]?" + re.escape(str(out))
                             + r"['\"]?\s*(?:#.*)?$")
        first: tuple[str, int] | None = None
        for path in files:
            lines = locator._lines(path)
            for i, text in enumerate(lines):
                m = pat.match(text)
                if not m:
                    continue
                start = _item_start(lines, i, len(m.group("lead")))
                if any(out_pat.match(t) for t in _item_lines(lines, start - 1)):
                    return path, start
                first = first or (path, start)
        if first:
            return first
    for path in reversed(files):
        line = locator.key_line(path, "dependencies")
        if line:
            return path, line
    return locator.target_file, 0


def _item_start(lines: list[str], index: int, column: int) -> int:
    """The 1-based line of the ``- `` that starts the list item holding ``lines[index]``."""
    for i in range(index, -1, -1):
        text = lines[i]
        stripped = text.lstrip()
        if stripped.startswith("- ") and len(text) - len(stripped) + 2 <= column:
            return i + 1
        if stripped and not stripped.startswith("#") and len(text) - len(stripped) < column - 2:
            break
    return index + 1


def _item_lines(lines: list[str], start: int) -> list[str]:
    """The lines of the list item that starts at index ``start``."""
    text = lines[start]
    indent = len(text) - len(text.lstrip())
    out = [text]
    for line in lines[start + 1:]:
        stripped = line.lstrip()
        if stripped and len(line) - len(stripped) <= indent:
            break
        out.append(line)
    return out


def declares(dependencies: Any, input_path: str) -> bool:
    """Whether one of ``dependencies`` (a target's, as resolved) writes ``input_path``.

    True when a dependency's ``output_path`` is the path or one of its parents.
    """
    want = os.path.normpath(input_path)
    for dep in dependencies or []:
        out = dep.get("output_path") if isinstance(dep, Mapping) else None
        if not isinstance(out, str) or not out:
            continue
        out = os.path.normpath(out)
        if want == out or want.startswith(out.rstrip(os.sep) + os.sep):
            return True
    return False


def plan_for(inventory: Any, names: list[str], output_path: str, root: str) -> FetchPlan:
    """Resolve targets ``names`` of ``inventory`` and plan their dependencies.

    Targets that do not resolve give their problems (``unresolved``), and no dependencies.
    """
    resolved, problems = inventory.resolve_partial(names)
    locators = {n: Locator(inventory.classes_dir, inventory.targets[n].path, n) for n in resolved}
    plan = make_plan(resolved, locators, output_path, root)
    plan.unresolved = problems
    plan.force_targets = {n for n, t in resolved.items()
                          if any(isinstance(d, Mapping) and d.get("force_fetch")
                                 for d in (t["parameters"].get("kapitan") or {}).get("dependencies")
                                 or [])}
    return plan
