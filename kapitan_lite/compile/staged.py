"""One target's output while it compiles: in memory, on disk only when needed.

Jinja2 and copy items add files here without touching the disk. Input types
that work on a real directory (external commands, helm, remove, ...) get
one: the files so far are flushed into the target's staging directory
before they run, and what they leave there is taken back afterwards. When
the target is done, :meth:`StagedTarget.diff` compares every file with
``compiled/`` and writes only the changed ones into staging, for the writer
to move into place. An unchanged compile writes nothing at all.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass

from .writer import Manifest


def _new_file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


# The mode ``open(path, "w")`` gives a new file, as Kapitan writes its outputs.
NEW_FILE_MODE = _new_file_mode()


@dataclass
class _Entry:
    data: bytes | None = None  # in memory
    src: str | None = None  # a file to copy, read when needed
    mode: int = 0o644
    on_disk: bool = False  # lives in the staging dir (written by a disk-based input)

    def read(self, staged_path: str) -> bytes:
        if self.data is not None:
            return self.data
        with open(self.src if self.src is not None else staged_path, "rb") as fp:
            return fp.read()


class StagedTarget:
    """The files and directories one target has produced so far."""

    def __init__(self, root: str, nested: set[str] | frozenset[str] = frozenset()):
        self.root = os.path.normpath(root)  # staging/compiled/<target dir>
        self.nested = nested  # other targets' dirs inside this one: not ours
        self.files: dict[str, _Entry] = {}
        self.dirs: set[str] = set()
        self.exists = False  # the target's own dir, even when empty

    def _rel(self, path: str) -> str:
        # Paths are built by joining onto root: strip it as text (relpath would
        # ask the OS for the working directory on every call).
        norm = os.path.normpath(path)
        if norm == self.root:
            return "."
        if not norm.startswith(self.root + os.sep):
            raise ValueError(f"{path} is outside the target's output")
        return norm[len(self.root) + 1:]

    def _add_parents(self, rel: str) -> None:
        parent = os.path.dirname(rel)
        while parent and parent not in self.dirs:
            self.dirs.add(parent)
            parent = os.path.dirname(parent)

    def mkdir(self, path: str) -> None:
        """An (empty) output directory, as Kapitan creates for every output_path."""
        rel = self._rel(path)
        self.exists = True
        if rel != ".":
            self.dirs.add(rel)
            self._add_parents(rel)

    def write(self, path: str, data: bytes, mode: int) -> None:
        """A file with these bytes and mode."""
        rel = self._rel(path)
        self.files[rel] = _Entry(data=data, mode=mode)
        self.dirs.discard(rel)
        self._add_parents(rel)

    def copy(self, src: str, path: str) -> None:
        """A copy of file ``src`` (bytes and mode, as ``shutil.copy2``)."""
        rel = self._rel(path)
        self.files[rel] = _Entry(src=src, mode=os.stat(src).st_mode & 0o7777)
        self._add_parents(rel)

    def is_dir(self, path: str) -> bool:
        """Whether ``path`` is a directory of this output."""
        rel = self._rel(path)
        return rel == "." or rel in self.dirs

    def is_file(self, path: str) -> bool:
        """Whether ``path`` is a file of this output."""
        return self._rel(path) in self.files

    # -- disk ----------------------------------------------------------------
    def flush(self) -> None:
        """Put everything on disk, for an input type that needs a real directory."""
        os.makedirs(self.root, exist_ok=True)
        for rel in sorted(self.dirs):
            os.makedirs(os.path.join(self.root, rel), exist_ok=True)
        for rel, entry in self.files.items():
            if entry.on_disk:
                continue
            path = os.path.join(self.root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if entry.src is not None:
                shutil.copy2(entry.src, path)
            else:
                try:
                    with open(path, "wb") as fp:
                        fp.write(entry.data or b"")
                except OSError as exc:
                    if exc.filename is None:  # write() and close() do not say which file
                        exc.filename = path
                    raise
                os.chmod(path, entry.mode)
            entry.on_disk, entry.data, entry.src = True, None, None

    def absorb(self) -> None:
        """Take the staging directory as the truth, after a disk-based input ran."""
        self.files, self.dirs = {}, set()
        for root, dirs, files in os.walk(self.root):
            rel_root = os.path.relpath(root, self.root)
            dirs[:] = [d for d in dirs
                       if os.path.normpath(os.path.join(rel_root, d)) not in self.nested]
            for d in dirs:
                self.dirs.add(os.path.normpath(os.path.join(rel_root, d)))
            for f in files:
                rel = os.path.normpath(os.path.join(rel_root, f))
                mode = os.lstat(os.path.join(root, f)).st_mode & 0o7777
                self.files[rel] = _Entry(mode=mode, on_disk=True)

    def diff(self, compiled_root: str) -> Manifest:
        """Compare with ``compiled/<target>``; stage the changed files for the writer."""
        present = self.exists or bool(self.files) or os.path.isdir(self.root)
        manifest = Manifest(target_dir="", present=present)
        manifest.dirs = set(self.dirs)
        made: set[str] = set()
        for rel, entry in self.files.items():
            staged = os.path.join(self.root, rel)
            data = entry.read(staged)
            manifest.files.add(rel)
            manifest.hashes[rel] = hashlib.sha256(data).hexdigest()
            final = os.path.join(compiled_root, rel)
            try:
                st = os.lstat(final)
                same = (not os.path.islink(final) and st.st_size == len(data)
                        and _read(final) == data)
            except OSError:
                same = False
            if same:
                if st.st_mode & 0o7777 != entry.mode:
                    manifest.mode_changed[rel] = entry.mode
                continue
            manifest.changed.add(rel)
            if not entry.on_disk:
                parent = os.path.dirname(staged)
                if parent not in made:
                    os.makedirs(parent, exist_ok=True)
                    made.add(parent)
                try:
                    with open(staged, "wb") as fp:
                        fp.write(data)
                except OSError as exc:  # write() does not say which file (a full disk)
                    exc.filename = exc.filename or staged
                    raise
                os.chmod(staged, entry.mode)
        return manifest


def _read(path: str) -> bytes:
    with open(path, "rb") as fp:
        return fp.read()
