"""Which Kubernetes version an object is validated for: the option, the inventory, the newest.

Kapitan's old ``parameters.kapitan.validate`` gives a version per target
and per file; a version between two bundled ones uses the older.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import Problem, UserError
from .schemas import parse_version, pick_version


def resolve_version(text: str, versions: list[tuple[int, int]], where: str = "") -> tuple[int, int]:
    """The bundled version to use for a version asked for; :class:`UserError` if none fits."""
    wanted = parse_version(text)
    newest = f"{versions[-1][0]}.{versions[-1][1]}"
    oldest = f"{versions[0][0]}.{versions[0][1]}"
    if wanted is None:
        raise UserError.of(f"{where}kubernetes version {text!r} is not a version like 1.30")
    if wanted > versions[-1]:
        raise UserError.of(f"{where}no schemas for Kubernetes {text}: the newest bundled is {newest}")
    picked = pick_version(wanted, versions)
    if picked is None:
        raise UserError.of(f"{where}no schemas for Kubernetes {text}: "
                           f"the bundled ones are {oldest} to {newest}")
    return picked


def target_versions(inventory: Any, names: list[str], default: tuple[int, int],
                    versions: list[tuple[int, int]]) -> dict[str, dict[str, tuple[int, int]]]:
    """Per target, the version of each ``output_paths`` entry of ``parameters.kapitan.validate``.

    Kapitan's old shape: a list of ``{type: kubernetes, version, output_paths}``.
    The key ``""`` is the target's version for files no entry lists: that
    of its first entry without ``output_paths``, else ``default``.
    """
    if not _mentions_validate(inventory.path):
        return {n: {"": default} for n in names}
    resolved = inventory.resolve(names)
    out: dict[str, dict[str, tuple[int, int]]] = {}
    problems: list[Problem] = []
    for name in names:
        table: dict[str, tuple[int, int]] = {}
        entries = ((resolved[name].get("parameters") or {}).get("kapitan") or {}).get("validate")
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or entry.get("type", "kubernetes") != "kubernetes" \
                    or entry.get("version") is None:
                continue
            try:
                version = resolve_version(str(entry["version"]), versions)
            except UserError as exc:
                wanted = parse_version(str(entry["version"]))
                if wanted is None or wanted > versions[-1]:
                    problems.extend(Problem(inventory.targets[name].path, 0, name,
                                            f"parameters.kapitan.validate: {p.message}")
                                    for p in exc.problems)
                    continue
                version = versions[0]  # older than every bundled schema: the oldest we have
            if not entry.get("output_paths"):
                table.setdefault("", version)
            for path in entry.get("output_paths") or []:
                table[os.path.normpath(str(path))] = version
        table.setdefault("", default)
        out[name] = table
    if problems:
        raise UserError(problems)
    return out


def _mentions_validate(inventory_path: str) -> bool:
    """Whether any inventory file holds the word ``validate`` (else no target can set it)."""
    for root, dirs, files in os.walk(inventory_path):
        dirs.sort()
        for name in files:
            if name.endswith((".yml", ".yaml")):
                with open(os.path.join(root, name), "rb") as fp:
                    if b"validate" in fp.read():
                        return True
    return False
