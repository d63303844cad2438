"""Target discovery: which files are targets, their names and output paths."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import Problem, UserError

TARGET_EXTENSIONS = (".yml", ".yaml")


@dataclass(frozen=True)
class TargetFile:
    """A target's file and the names Kapitan derives from it."""

    name: str
    path: str  # the target file

    @property
    def output_dir(self) -> str:
        """Path under ``compiled/``: dots in the name become directories, as in Kapitan."""
        return self.name.replace(".", "/")


def discover_targets(nodes_dir: str, compose_node_name: bool = False) -> dict[str, TargetFile]:
    """Find every ``.yml``/``.yaml`` target under ``nodes_dir``, sorted by name.

    Without ``compose_node_name`` the name is the file's basename, so the same
    basename in two directories is a conflict, reported with both files.
    """
    found: dict[str, TargetFile] = {}
    problems: list[Problem] = []
    if not os.path.isdir(nodes_dir):
        raise UserError.of("targets directory not found", path=nodes_dir)
    for root, dirs, files in os.walk(nodes_dir, followlinks=True):
        dirs.sort()
        for file in sorted(files):
            stem, ext = os.path.splitext(file)
            if ext not in TARGET_EXTENSIONS:
                continue
            path = os.path.join(root, file)
            if compose_node_name:
                rel = os.path.relpath(path, nodes_dir)
                name = os.path.splitext(rel)[0].replace(os.sep, ".")
            else:
                name = stem
            if name in found:
                problems.append(
                    Problem(path, 1, name, f"conflicting targets: also defined in {found[name].path}"
                            " (use --compose-target-name)")
                )
                continue
            found[name] = TargetFile(name=name, path=path)
    if problems:
        raise UserError(problems)
    return dict(sorted(found.items()))
