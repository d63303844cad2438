"""The only code that touches ``compiled/``.

Targets are compiled into a staging area beside ``compiled/``
(``<output-path>/.kcompile-staging/compiled/<target>``; see ``staged.py``,
which keeps files in memory and writes only changed ones there). Each worker
compares its target's output with ``compiled/`` and records a manifest. Only when every target has succeeded does :func:`apply` move the
changed files into place (one ``rename`` each, so a file is never half
written), remove stale files and directories, and leave unchanged files
untouched, mtime included. A failed or interrupted run never reaches
:func:`apply`, so ``compiled/`` stays exactly as it was.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from dataclasses import dataclass, field

from ..errors import UserError

STAGING_NAME = ".kcompile-staging"


@dataclass
class Manifest:
    """What one target's output is, and how it differs from ``compiled/``."""

    target_dir: str  # under compiled/, e.g. "prod-cluster" or "sub/t2"
    present: bool = True  # False: the target wrote nothing, so it has no dir
    files: set[str] = field(default_factory=set)  # relative to the target dir
    dirs: set[str] = field(default_factory=set)
    changed: set[str] = field(default_factory=set)  # new or different bytes
    hashes: dict[str, str] = field(default_factory=dict)  # rel -> sha256 of the bytes
    mode_changed: dict[str, int] = field(default_factory=dict)


class Staging:
    """The staging area of one run, locked against concurrent runs."""

    def __init__(self, output_path: str):
        self.output_path = output_path
        self.root = os.path.abspath(os.path.join(output_path, STAGING_NAME))
        self.compiled = os.path.join(self.root, "compiled")
        self._lock_fd: int | None = None

    def __enter__(self) -> Staging:
        os.makedirs(self.output_path, exist_ok=True)
        os.makedirs(self.root, exist_ok=True)
        # If a killed run leaves this behind, git still shows nothing.
        with open(os.path.join(self.root, ".gitignore"), "w") as fp:
            fp.write("*\n")
        fd = os.open(os.path.join(self.root, ".lock"), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UserError.of("another kcompile run is using this output path",
                               path=self.root) from None
        self._lock_fd = fd
        # Left over by a killed run: start clean.
        shutil.rmtree(self.compiled, ignore_errors=True)
        os.makedirs(self.compiled)
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def nested_targets(all_target_dirs: set[str]) -> dict[str, set[str]]:
    """For each target dir that holds other targets' dirs, those dirs (relative to it).

    Built once per run: asking each target in turn would cost the square of
    the fleet's size.
    """
    nested: dict[str, set[str]] = {}
    for d in all_target_dirs:
        parts = d.split("/")
        for depth in range(1, len(parts)):
            outer = "/".join(parts[:depth])
            if outer in all_target_dirs:
                nested.setdefault(outer, set()).add("/".join(parts[depth:]))
    return nested


def _under(rel: str, protected: set[str]) -> bool:
    return any(rel == p or rel.startswith(p + "/") or p.startswith(rel + "/") for p in protected)


def apply(staging: Staging, compiled_dir: str, manifests: list[Manifest],
          all_target_dirs: set[str], full: bool) -> None:
    """Make ``compiled/`` hold exactly the staged output of these targets.

    With ``full`` (every target of the inventory compiled), anything in
    ``compiled/`` that belongs to no target is removed too.
    """
    os.makedirs(compiled_dir, exist_ok=True)
    nested = nested_targets(all_target_dirs)
    for m in sorted(manifests, key=lambda m: m.target_dir):
        src_root = os.path.join(staging.compiled, m.target_dir)
        dst_root = os.path.join(compiled_dir, m.target_dir)
        protected = nested.get(m.target_dir, set())
        if not m.present and not protected:
            _remove(dst_root)
            continue
        if os.path.lexists(dst_root) and not os.path.isdir(dst_root):
            os.unlink(dst_root)
        os.makedirs(dst_root, exist_ok=True)
        for d in sorted(m.dirs):  # parents sort before their children
            dst = os.path.join(dst_root, d)
            try:
                os.mkdir(dst)
            except FileExistsError:
                if not os.path.isdir(dst):
                    os.unlink(dst)
                    os.mkdir(dst)
        for rel in sorted(m.changed):
            dst = os.path.join(dst_root, rel)
            try:
                os.replace(os.path.join(src_root, rel), dst)
            except IsADirectoryError:  # a directory where the file goes now
                shutil.rmtree(dst)
                os.replace(os.path.join(src_root, rel), dst)
        for rel, mode in sorted(m.mode_changed.items()):
            os.chmod(os.path.join(dst_root, rel), mode)
        # Stale files and directories, deepest first.
        for root, dirs, files in os.walk(dst_root, topdown=False):
            rel_root = os.path.relpath(root, dst_root)
            for f in files:
                rel = os.path.normpath(os.path.join(rel_root, f))
                if rel not in m.files and not _under(rel, protected):
                    os.unlink(os.path.join(root, f))
            for d in dirs:
                rel = os.path.normpath(os.path.join(rel_root, d))
                path = os.path.join(root, d)
                if rel in m.dirs or _under(rel, protected):
                    continue
                if os.path.islink(path):
                    os.unlink(path)
                elif not os.listdir(path):
                    os.rmdir(path)
    if full:
        _prune_foreign(compiled_dir, all_target_dirs)


def _prune_foreign(compiled_dir: str, target_dirs: set[str]) -> None:
    """Remove what lies in ``compiled/`` outside every target's dir."""
    keep = set(target_dirs)
    for root, dirs, files in os.walk(compiled_dir, topdown=True):
        rel_root = os.path.relpath(root, compiled_dir)
        rel_root = "" if rel_root == "." else rel_root
        for f in files:
            rel = os.path.join(rel_root, f) if rel_root else f
            if not any(rel.startswith(t + "/") for t in keep):
                os.unlink(os.path.join(root, f))
        for d in list(dirs):
            rel = os.path.join(rel_root, d) if rel_root else d
            if rel in keep:
                dirs.remove(d)  # a target's own dir: already synced
            elif not any(t.startswith(rel + "/") for t in keep):
                _remove(os.path.join(root, d))
                dirs.remove(d)
