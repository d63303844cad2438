"""Compare two ``compiled/`` trees, target by target, file by file, object by object.

Files are compared by bytes first; only files that differ are parsed. YAML
and JSON documents are matched across all the differing files of a target by
their identity, so an object that moved to another file is matched, and a
file that was only reformatted is not a change. Renamed files are found by
equal content, by holding the same objects, or (text) by similar lines.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .objects import (
    Document,
    FieldChange,
    ObjectId,
    diff_documents,
    documents,
    only_tags_differ,
    parse_documents,
)

NO_TARGET = "(no target)"
TEXT_DIFF_CONTEXT = 1
RENAME_SIMILARITY = 0.5  # as git's default: half the lines in common
RENAME_PAIRS_MAX = 400  # similarity is only tried on this many file pairs per target


@dataclass
class ObjectDiff:
    """One object added, removed, changed, or moved to another file."""

    id: ObjectId
    status: str  # added | removed | changed | moved
    file: str  # where it is now (where it was, when removed)
    old_file: str = ""
    fields: list[FieldChange] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        out: dict[str, Any] = {"id": self.id.as_dict(), "label": self.id.label(),
                               "status": self.status, "file": self.file}
        if self.old_file and self.old_file != self.file:
            out["old_file"] = self.old_file
        if self.fields:
            out["fields"] = [f.as_dict() for f in self.fields]
        return out


@dataclass
class FileDiff:
    """One file added, removed, changed, renamed, or only reformatted."""

    path: str  # relative to the target dir; the new path when renamed
    status: str  # added | removed | changed | renamed | reformatted
    old_path: str = ""
    structured: bool = False  # YAML/JSON: its changes are in the objects
    text: list[str] = field(default_factory=list)  # line diff of a text file
    secret_only: bool = False
    binary: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        out: dict[str, Any] = {"path": self.path, "status": self.status}
        if self.old_path:
            out["old_path"] = self.old_path
        if self.text:
            out["text_diff"] = self.text
        if self.secret_only:
            out["secret_only"] = True
        if self.binary:
            out["binary"] = True
        return out


COUNTS = ("files_added", "files_removed", "files_changed", "files_renamed",
          "files_reformatted", "objects_added", "objects_removed", "objects_changed",
          "objects_moved", "secrets_changed")


@dataclass
class TargetDiff:
    """How one target's output differs."""

    name: str
    status: str  # added | removed | changed
    files: list[FileDiff] = field(default_factory=list)
    objects: list[ObjectDiff] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """The per-target summary: files and objects by kind of change."""
        out = dict.fromkeys(COUNTS, 0)
        for f in self.files:
            out[f"files_{f.status}"] += 1
            out["secrets_changed"] += f.secret_only
        for o in self.objects:
            out[f"objects_{o.status}"] += 1
            out["secrets_changed"] += sum(1 for fc in o.fields if fc.op == "secret")
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"target": self.name, "status": self.status, "counts": self.counts(),
                "files": [f.as_dict() for f in self.files],
                "objects": [o.as_dict() for o in self.objects]}


@dataclass
class TreeDiff:
    """Every target that differs between two trees, sorted by name."""

    targets: list[TargetDiff] = field(default_factory=list)
    compared: int = 0  # targets compared, differing or not

    def counts(self) -> dict[str, int]:
        """Totals over all targets."""
        out = dict.fromkeys(COUNTS, 0)
        for t in self.targets:
            for key, n in t.counts().items():
                out[key] += n
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"targets_compared": self.compared, "targets_changed": len(self.targets),
                "targets_added": sum(t.status == "added" for t in self.targets),
                "targets_removed": sum(t.status == "removed" for t in self.targets),
                "counts": self.counts(), "targets": [t.as_dict() for t in self.targets]}


# -- reading trees ------------------------------------------------------------

def owner(rel: str, target_dirs: dict[str, str]) -> tuple[str, str]:
    """The target owning a file under ``compiled/``, and the file's path within it.

    The deepest target dir wins (target ``my.dotted`` owns ``my/dotted/``
    inside target ``my``). A file outside every target dir belongs to the
    target named as its top directory (a target that no longer exists), or,
    directly in ``compiled/``, to no target.
    """
    parts = rel.split("/")
    for cut in range(len(parts) - 1, 0, -1):
        name = target_dirs.get("/".join(parts[:cut]))
        if name is not None:
            return name, "/".join(parts[cut:])
    if len(parts) > 1:
        return parts[0], "/".join(parts[1:])
    return NO_TARGET, rel


def list_tree(root: str, target_dirs: dict[str, str],
              only: set[str] | None = None) -> dict[str, dict[str, str]]:
    """``{target: {path in target: absolute path}}`` for every file under ``root``."""
    out: dict[str, dict[str, str]] = {}
    if not os.path.isdir(root):
        return out
    for here, dirs, files in os.walk(root):
        dirs.sort()
        rel_here = os.path.relpath(here, root)
        for name in sorted(files):
            rel = name if rel_here == "." else f"{rel_here}/{name}"
            target, inner = owner(rel, target_dirs)
            if only is None or target in only:
                out.setdefault(target, {})[inner] = os.path.join(here, name)
    return out


def _read(path: str) -> bytes:
    with open(path, "rb") as fp:
        return fp.read()


def _same(a: str, b: str) -> bool:
    if os.path.getsize(a) != os.path.getsize(b):
        return False
    return _read(a) == _read(b)


# -- comparing ----------------------------------------------------------------

class _Side:
    """The differing files of one side of one target, read and parsed once."""

    def __init__(self, files: dict[str, str]):
        self.files = files
        self._data: dict[str, bytes] = {}
        self._bodies: dict[str, list[Any] | None] = {}

    def data(self, rel: str) -> bytes:
        if rel not in self._data:
            self._data[rel] = _read(self.files[rel])
        return self._data[rel]

    def docs(self, rel: str, as_file: str | None = None) -> list[Document] | None:
        """The documents of ``rel`` (``None``: not YAML/JSON), named as ``as_file``."""
        if rel not in self._bodies:
            self._bodies[rel] = parse_documents(rel, self.data(rel))
        bodies = self._bodies[rel]
        return None if bodies is None else documents(as_file or rel, bodies)

    def text(self, rel: str) -> str | None:
        try:
            return self.data(rel).decode("utf-8")
        except UnicodeDecodeError:
            return None


def _identities(docs: list[Document] | None) -> frozenset[ObjectId]:
    return frozenset(d.id for d in docs or () if d.id.is_k8s)


def _renames(old: _Side, new: _Side, removed: list[str], added: list[str]) -> dict[str, str]:
    """``{old path: new path}`` for removed files that reappear under another name."""
    found: dict[str, str] = {}
    by_bytes: dict[bytes, list[str]] = {}
    for rel in added:
        by_bytes.setdefault(new.data(rel), []).append(rel)
    for rel in removed:
        same = by_bytes.get(old.data(rel))
        if same:
            found[rel] = same.pop(0)
    left_old = [r for r in removed if r not in found]
    taken = set(found.values())
    left_new = [r for r in added if r not in taken]
    # Same objects, other bytes: a renamed manifest that also changed.
    by_ids: dict[frozenset[ObjectId], list[str]] = {}
    for rel in left_new:
        ids = _identities(new.docs(rel))
        if ids:
            by_ids.setdefault(ids, []).append(rel)
    for rel in left_old:
        same = by_ids.get(_identities(old.docs(rel)) or frozenset())
        if same:
            found[rel] = same.pop(0)
    # Similar text, as git finds renames.
    left_old = [r for r in left_old if r not in found]
    taken = set(found.values())
    left_new = [r for r in left_new if r not in taken and new.docs(r) is None]
    if left_old and left_new and len(left_old) * len(left_new) <= RENAME_PAIRS_MAX:
        for rel in left_old:
            if old.docs(rel) is not None:
                continue
            a = (old.text(rel) or "").splitlines()
            best, best_ratio = None, RENAME_SIMILARITY
            for cand in left_new:
                matcher = difflib.SequenceMatcher(a=a, b=(new.text(cand) or "").splitlines(),
                                                  autojunk=False)
                if matcher.quick_ratio() >= best_ratio and matcher.ratio() >= best_ratio:
                    best, best_ratio = cand, matcher.ratio()
            if best is not None:
                found[rel] = best
                left_new.remove(best)
    return found


def _text_diff(fd: FileDiff, old: _Side, new: _Side, old_rel: str, new_rel: str) -> None:
    a, b = old.text(old_rel), new.text(new_rel)
    if a is None or b is None:
        fd.binary = True
        return
    if only_tags_differ(a, b):
        fd.secret_only = True
        return
    diff = difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=TEXT_DIFF_CONTEXT)
    fd.text = [line for line in diff if not line.startswith(("---", "+++"))]


def compare_target(name: str, old_files: dict[str, str] | None,
                   new_files: dict[str, str] | None) -> TargetDiff | None:
    """How target ``name`` differs (``None`` when it does not). A side that is
    ``None`` has no such target.
    """
    old_files = old_files or {}
    new_files = new_files or {}
    removed = sorted(set(old_files) - set(new_files))
    added = sorted(set(new_files) - set(old_files))
    changed = sorted(r for r in set(old_files) & set(new_files)
                     if not _same(old_files[r], new_files[r]))
    if not (removed or added or changed):
        return None
    status = "added" if not old_files else "removed" if not new_files else "changed"
    result = TargetDiff(name, status)
    old, new = _Side(old_files), _Side(new_files)
    renames = _renames(old, new, removed, added)
    renamed_to = set(renames.values())

    # Documents of every differing file, old paths seen through renames, so a
    # document without identity in a renamed file still meets itself.
    old_docs: list[Document] = []
    new_docs: list[Document] = []
    pairs = [(r, r) for r in changed] + sorted(renames.items())
    for old_rel, new_rel in pairs:
        a, b = old.docs(old_rel, as_file=new_rel), new.docs(new_rel)
        structured = a is not None and b is not None
        status_ = "changed" if old_rel == new_rel else "renamed"
        fd = FileDiff(new_rel, status_, "" if old_rel == new_rel else old_rel, structured)
        if structured:
            old_docs.extend(a or ())
            new_docs.extend(b or ())
        elif old.data(old_rel) != new.data(new_rel):
            _text_diff(fd, old, new, old_rel, new_rel)
        result.files.append(fd)
    for rel in removed:
        if rel not in renames:
            docs = old.docs(rel)
            old_docs.extend(docs or ())
            result.files.append(FileDiff(rel, "removed", structured=docs is not None))
    for rel in added:
        if rel not in renamed_to:
            docs = new.docs(rel)
            new_docs.extend(docs or ())
            result.files.append(FileDiff(rel, "added", structured=docs is not None))

    result.objects = _match(old_docs, new_docs)
    touched = {o.file for o in result.objects} | {o.old_file for o in result.objects}
    for fd in result.files:
        if fd.status == "changed" and fd.structured and fd.path not in touched:
            fd.status = "reformatted"
    result.files.sort(key=lambda f: f.path)
    return result


def _keyed(docs: Iterable[Document]) -> dict[tuple[ObjectId, int], Document]:
    """Documents by identity; a repeated identity is told apart by its occurrence."""
    seen: dict[ObjectId, int] = {}
    out = {}
    for doc in docs:
        n = seen.get(doc.id, 0)
        seen[doc.id] = n + 1
        out[(doc.id, n)] = doc
    return out


def _match(old_docs: list[Document], new_docs: list[Document]) -> list[ObjectDiff]:
    old_by, new_by = _keyed(old_docs), _keyed(new_docs)
    out = []
    for key in sorted(set(old_by) | set(new_by)):
        a, b = old_by.get(key), new_by.get(key)
        if a is None and b is not None:
            out.append(ObjectDiff(key[0], "added", b.file))
        elif b is None and a is not None:
            out.append(ObjectDiff(key[0], "removed", a.file))
        elif a is not None and b is not None:
            fields = diff_documents(a.body, b.body, key[0])
            if fields:
                out.append(ObjectDiff(key[0], "changed", b.file, a.file, fields))
            elif a.file != b.file:
                out.append(ObjectDiff(key[0], "moved", b.file, a.file))
    return out


def compare_trees(old_root: str | None, new_root: str | None, target_dirs: dict[str, str],
                  only: set[str] | None = None) -> TreeDiff:
    """Compare two ``compiled/`` trees (a missing root is an empty tree).

    ``target_dirs`` maps each target's dir under ``compiled/`` to its name
    (both sides' targets); ``only`` limits the comparison to these names.
    """
    old = list_tree(old_root, target_dirs, only) if old_root else {}
    new = list_tree(new_root, target_dirs, only) if new_root else {}
    names = set(old) | set(new)
    known = set(target_dirs.values()) if only is None else set(only)
    diff = TreeDiff(compared=len(names | known))
    for name in sorted(names):
        td = compare_target(name, old.get(name), new.get(name))
        if td is not None:
            diff.targets.append(td)
    return diff
