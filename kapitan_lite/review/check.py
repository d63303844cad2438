"""``check``: is the committed ``compiled/`` exactly what the sources produce?

The sources are compiled into a temporary directory (never into
``compiled/``) and compared with ``compiled/`` byte for byte; the differences
are described file by file and object by object. ``compiled/`` must also not
hold the plaintext of any secret ref (:mod:`.leaks`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..project import Settings
from .compare import TreeDiff, compare_trees, list_tree
from .gitrev import scratch
from .leaks import Leak, find_leaks
from .sides import compile_into, target_dirs


@dataclass
class CheckResult:
    """What ``check`` found: differing targets and leaked secrets."""

    diff: TreeDiff
    leaks: list[Leak] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """``compiled/`` is up to date and holds no secret."""
        return not self.diff.targets and not self.leaks


def run_check(settings: Settings, names: list[str] | None = None) -> CheckResult:
    """Compile the selected targets (all by default) aside and compare with ``compiled/``.

    The working directory must be the project root (as for a compile).
    Raises :class:`~kapitan_lite.errors.UserError` when the sources do not compile.
    """
    dirs = target_dirs(settings)
    only = set(names) if names else None
    committed = settings.compiled_dir
    with scratch() as tmp:
        fresh = compile_into(settings, names, tmp)
        diff = compare_trees(committed, fresh, dirs, only)
    files = [path for tree in list_tree(committed, dirs, only).values() for path in tree.values()]
    leaks = find_leaks(settings.refs_path, [(os.path.normpath(p), p) for p in files])
    return CheckResult(diff, leaks)
