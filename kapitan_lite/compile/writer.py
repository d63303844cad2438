"""The only code that touches ``compiled/``: an all-or-nothing commit of the new tree.

Targets compile into the staging area (``workarea.py``); each worker
compares its target's output with ``compiled/`` and records a manifest
(``staged.py`` writes only the changed files into staging). When every
target has succeeded, :func:`commit` makes the complete new tree beside
``compiled/``, in ``.kcompile-staging/next``:

- the compiled targets' unchanged files are hard links to the files in
  ``compiled/`` (same inode, same mtime); their changed files are moved in
  from staging; a file whose bytes are unchanged but whose mode changed is
  copied (a link would change the old tree's file too);
- the targets not compiled in this run (``-t``) and other targets' dirs
  nested inside a compiled one are linked whole;
- what lies outside every target's dir is kept, except after a full
  compile, which drops it, as are a compiled target's stale files.

Then ``exchange.swap`` makes it current in one atomic step. The previous
tree, now at ``.kcompile-staging/next``, is kept as the spare for the next
commit, with every file it does not share with the new tree removed: a
spare holds links to ``compiled/``'s own files only, so it costs
directories, not data. Making the next tree from it is then a walk that
finds its entries already right (same inode as in ``compiled/``) and
touches only what changed: creating thousands of directories afresh would
cost more than the compile of one target. Nothing is written when the new
tree would equal the old one. After a first compile into an empty
``compiled/`` the staging tree, whose files were linked in rather than
moved, is the spare instead (:func:`_adopt_shells`).
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from dataclasses import dataclass, field

from ..errors import UserError
from .exchange import flush_file_system, pause, signals_held, swap
from .spare import RECORD_NAME, Record, Stamp, save_paired
from .spare import save as save_record
from .workarea import Staging, remove_tree


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


_FSYNC_AT_MOST = 200  # paths fsynced one by one before the swap; beyond, syncfs


@dataclass
class Tree:
    """How to build the new ``compiled/`` from the old one and the staged files."""

    dirs: dict[str, int | None] = field(default_factory=dict)  # rel -> mode (None: default)
    links: list[str] = field(default_factory=list)  # same file as in the old tree
    moves: list[tuple[str, str]] = field(default_factory=list)  # (staged file, rel)
    copies: list[tuple[str, int]] = field(default_factory=list)  # (rel, new mode)
    inodes: dict[str, int] = field(default_factory=dict)  # rel -> inode in the old tree
    gone: list[str] = field(default_factory=list)  # old files the new tree does not share
    gone_dirs: list[str] = field(default_factory=list)  # old dirs it drops
    trusted: set[str] = field(default_factory=set)  # kept dirs the record vouches for
    live_stamps: dict[str, Stamp] = field(default_factory=dict)  # dirs as read, before changes
    spare_stamps: dict[str, Stamp] = field(default_factory=dict)
    root_mode: int | None = None
    differs: bool = False  # the new tree is not the old one
    old_dirs: int = 0  # how many dirs the old tree has


@dataclass
class Committed:
    """What a commit that replaced ``compiled/`` tells the cache."""

    # Each dir of the old tree the new one was built from, with its inode and ctime
    # as read: a dir that was so when the run checked it, and that the new tree
    # keeps, lists the same names in the new tree.
    read: dict[str, Stamp]
    # When the new tree became ``compiled/`` (before it, only this run could write it).
    visible_ns: int
    # Dirs of the new tree with their inode, mtime and ctime, read before anything
    # changed them and left alone since: those of the targets kept as they were.
    new: dict[str, Stamp] = field(default_factory=dict)


def _ancestors(target_dirs: set[str]) -> set[str]:
    """The dirs that hold target dirs (``sub`` for ``sub/t2``)."""
    return {"/".join(t.split("/")[:i]) for t in target_dirs for i in range(1, t.count("/") + 1)}


def has_foreign(compiled_dir: str, all_target_dirs: set[str]) -> bool:
    """Whether ``compiled/`` holds anything outside every target's dir (read: a few dirs)."""
    ancestors = _ancestors(all_target_dirs)
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            entries = _entries(compiled_dir, rel_dir)
        except FileNotFoundError:
            return False
        for rel, e in entries:
            if rel in all_target_dirs:
                continue
            if rel in ancestors and e.is_dir(follow_symlinks=False):
                stack.append(rel)
            else:
                return True
    return False


def unchanged(compiled_dir: str, manifests: list[Manifest], all_target_dirs: set[str],
              full: bool) -> bool:
    """Whether the compiled targets' dirs already hold exactly their new output (read: those).

    A cheap answer for the common case, before :func:`plan_tree` reads the whole tree.
    """
    if any(m.changed or m.mode_changed or not m.present for m in manifests):
        return False
    if full and has_foreign(compiled_dir, all_target_dirs):
        return False
    ancestors = _ancestors(all_target_dirs)
    for m in manifests:
        root = os.path.join(compiled_dir, m.target_dir)
        if not os.path.isdir(root) or os.path.islink(root):
            return False
        stack, dirs = [""], 0
        while stack:
            rel_dir = stack.pop()
            for rel, e in _entries(root, rel_dir):
                if e.is_dir(follow_symlinks=False):
                    path = f"{m.target_dir}/{rel}"
                    if path in all_target_dirs:
                        continue  # another target's
                    if rel in m.dirs:
                        dirs += 1
                    elif path not in ancestors:
                        return False  # a stale dir
                    stack.append(rel)
                elif rel not in m.files:
                    return False  # a stale file
        if dirs != len(m.dirs):
            return False  # a new dir
    return True


@dataclass
class OldTree:
    """What a commit read of the old tree, and what it left for once the output is known."""

    started_ns: int  # when the reading began
    walk: _OldWalk  # as far as it went (its record too): the compiled targets' dirs are left


def read_old_tree(staging: Staging, compiled_dir: str, compiling: set[str],
                  all_target_dirs: set[str], full: bool,
                  intact: dict[str, Stamp] | None = None) -> OldTree:
    """Read ``compiled/`` except the dirs of the targets being compiled (``compiling``).

    A run may do this while the workers compile (``run.py``): it is most of
    a commit's reading at 1000 targets. What it finds there is what the
    commit keeps, as a later read would have found it.
    """
    pause("before reading the old tree")
    started_ns = time.time_ns()
    record = Record.load(staging.root)
    walk = _OldWalk(compiled_dir, all_target_dirs, full, record, staging.next, intact or {},
                    compiling)
    walk.start()
    return OldTree(started_ns, walk)


def plan_tree(compiled_dir: str, staged_root: str, manifests: list[Manifest],
              all_target_dirs: set[str], full: bool, old: OldTree) -> Tree:
    """Finish reading ``compiled/`` with the manifests; say what the new tree holds.

    Writes nothing. ``old``: what :func:`read_old_tree` read of it.
    """
    compiled = {m.target_dir: m for m in manifests}
    walk = old.walk
    walk.finish(compiled)
    tree, old_modes = walk.tree, walk.modes
    tree.old_dirs = len(old_modes)

    def need(rel: str) -> None:  # a dir of the new tree, with its parents
        while rel and rel not in tree.dirs:
            tree.dirs[rel] = old_modes.get(rel)
            if rel not in old_modes:
                tree.differs = True
            rel = os.path.dirname(rel)

    for t, m in compiled.items():
        tree.differs |= bool(m.changed or m.mode_changed)
        if not m.present:
            continue
        need(t)
        for d in m.dirs:
            need(f"{t}/{d}")
        for rel in m.files:
            path = f"{t}/{rel}"
            need(os.path.dirname(path))
            if rel in m.changed:
                tree.moves.append((os.path.join(staged_root, t, rel), path))
            elif rel in m.mode_changed:
                tree.copies.append((path, m.mode_changed[rel]))
            else:
                tree.links.append(path)
                continue
            if path in tree.inodes:  # the old file is not shared with the new tree
                del tree.inodes[path]
                tree.gone.append(path)
    for rel in list(tree.dirs):
        need(rel.rpartition("/")[0])
    return tree


class _OldWalk:
    """A walk of the old tree: notes what is kept as it is and what goes, and dirs' modes.

    A kept dir that the record vouches for in both trees is not read: its
    files are in the spare already. The dirs of the targets in ``pending``
    are left for :meth:`finish`, which knows their manifests (``compiled``).
    """

    def __init__(self, compiled_dir: str, all_target_dirs: set[str], full: bool,
                 record: Record, spare: str, intact: dict[str, Stamp], pending: set[str]):
        self.compiled_dir, self.all_target_dirs, self.full = compiled_dir, all_target_dirs, full
        self.ancestors = _ancestors(all_target_dirs)
        self.record, self.spare, self.intact, self.pending = record, spare, intact, pending
        self.tree = Tree()
        self.modes: dict[str, int] = {}  # each dir read, with its mode
        self.compiled: dict[str, Manifest] = {}
        self.deferred: list[str] = []
        # (dir, the target it belongs to, how its entries are treated): "foreign"
        # outside every target, "keep" kept as it is, "compiled" a compiled target's.
        self.stack: list[tuple[str, str, str]] = []

    def start(self) -> None:
        """Walk from the root."""
        try:
            self.tree.root_mode = stat.S_IMODE(os.stat(self.compiled_dir).st_mode)
        except FileNotFoundError:
            return
        self.stack.append(("", "", "foreign"))
        self._walk()

    def finish(self, compiled: dict[str, Manifest]) -> None:
        """Walk the dirs :meth:`start` left, now that the targets' manifests are known."""
        self.compiled, self.pending = compiled, set()
        for rel in self.deferred:
            self._compiled_dir(rel)
        self._walk()

    def _compiled_dir(self, rel: str) -> None:
        m = self.compiled.get(rel)
        if m is None:  # compiled, but without output to commit: kept as it is
            self.tree.dirs[rel] = self.modes[rel]
            self.stack.append((rel, rel, "keep"))
            return
        self.tree.differs |= not m.present
        self.stack.append((rel, rel, "compiled"))

    def _visit_dir(self, rel: str, mode: int, owner: str, ctx: str) -> None:
        tree, compiled = self.tree, self.compiled
        self.modes[rel] = mode
        if rel in self.pending:
            self.deferred.append(rel)
        elif rel in compiled:
            self._compiled_dir(rel)
        elif rel in self.all_target_dirs or ctx == "keep":
            tree.dirs[rel] = mode
            self.stack.append((rel, rel if rel in self.all_target_dirs else owner, "keep"))
        elif ctx == "compiled" and (rel[len(owner) + 1:] in compiled[owner].dirs
                                    or rel in self.ancestors):
            self.stack.append((rel, owner, "compiled"))
        elif ctx == "foreign" and rel in self.ancestors:
            tree.dirs[rel] = mode
            self.stack.append((rel, "", "foreign"))
        elif ctx == "foreign" and not self.full:
            tree.dirs[rel] = mode
            self.stack.append((rel, "", "keep"))
        else:  # a stale dir, or foreign output a full compile drops
            tree.differs = True
            tree.gone_dirs.append(rel)

    def _walk(self) -> None:
        tree, record, intact, stack = self.tree, self.record, self.intact, self.stack
        compiled_dir, compiled, visit_dir = self.compiled_dir, self.compiled, self._visit_dir
        while stack:
            rel_dir, owner, ctx = stack.pop()
            if ctx == "keep":
                mode, a, b = record.trusted(rel_dir, compiled_dir, self.spare,
                                            intact.get(rel_dir))
                if a:
                    tree.live_stamps[rel_dir] = a
                if b:
                    tree.spare_stamps[rel_dir] = b
                if mode is not None:  # its files are in the spare already: not read
                    tree.trusted.add(rel_dir)
                    for child in record.children(rel_dir):
                        visit_dir(child, record.mode(child, compiled_dir), owner, ctx)
                    continue
            for rel, e in _entries(compiled_dir, rel_dir):
                if e.is_dir(follow_symlinks=False):
                    found = intact.get(rel)
                    r = record.dirs.get(rel) if found else None
                    if r and [found[0], found[2]] == r[1:3]:  # as found, and as recorded
                        tree.live_stamps[rel] = found
                        visit_dir(rel, r[0], owner, ctx)
                        continue
                    st = e.stat(follow_symlinks=False)
                    tree.live_stamps[rel] = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
                    visit_dir(rel, stat.S_IMODE(st.st_mode), owner, ctx)
                elif ctx == "keep" or (ctx == "foreign" and not self.full):
                    tree.links.append(rel)
                    tree.inodes[rel] = e.inode()
                elif ctx == "compiled" and rel[len(owner) + 1:] in compiled[owner].files:
                    tree.inodes[rel] = e.inode()  # linked unless changed (see plan_tree)
                else:
                    tree.differs = True  # stale or foreign: not in the new tree
                    tree.gone.append(rel)


def _entries(root: str, rel_dir: str) -> list[tuple[str, os.DirEntry[str]]]:
    """The entries of dir ``rel_dir`` of tree ``root``, each with its path in the tree."""
    with os.scandir(os.path.join(root, rel_dir) if rel_dir else root) as it:
        return [(f"{rel_dir}/{e.name}" if rel_dir else e.name, e) for e in it]


def sync_tree(tree: Tree, compiled_dir: str, spare: str, record: Record,
              link_staged: bool = False) -> set[str]:
    """Make ``spare`` the new tree; raise :class:`UserError` naming what failed.

    Entries of the spare that are already right (a dir the new tree has, a
    link to the very file of ``compiled/``) are kept; the rest is removed
    and made. ``link_staged``: staged files are linked in, not moved, so
    that the staging area holds them too. Returns the paths (in the spare)
    a power cut needs on disk: the files moved or copied in and the dirs
    whose entries changed.
    """
    def where(rel: str) -> str:
        return os.path.join(compiled_dir, rel)

    def step(action: str, rel: str, fn, *args) -> None:  # type: ignore[no-untyped-def]
        try:
            fn(*args)
        except OSError as exc:
            raise UserError.of(f"cannot {action} the new compiled/ tree: "
                               f"{exc.strerror or exc}", path=where(rel)) from exc

    if os.path.lexists(spare) and not os.path.isdir(spare):
        step("make", "", os.unlink, spare)
    if not os.path.isdir(spare):
        step("create", "", os.mkdir, spare)
    linked = set(tree.links)
    kept: set[str] = set()
    touched: set[str] = set()
    modes: dict[str, int] = {}  # the spare's dirs that stay, with their modes
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        if rel_dir in tree.trusted:  # its files are right already
            for child in record.children(rel_dir):
                if child not in tree.dirs:
                    step("clear the spare of", child, remove_tree, os.path.join(spare, child))
                    touched.add(rel_dir)
                else:
                    modes[child] = record.mode(child, spare)
                    stack.append(child)
            continue
        for rel, e in _entries(spare, rel_dir):
            if e.is_dir(follow_symlinks=False):
                if rel in tree.dirs:
                    if rel in tree.trusted:  # stamped already (Record.trusted), mode recorded
                        mode = modes[rel] = record.dirs[rel][0]
                    else:
                        st = e.stat(follow_symlinks=False)
                        tree.spare_stamps[rel] = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
                        mode = modes[rel] = stat.S_IMODE(st.st_mode)
                    if not mode & stat.S_IWUSR:  # a read-only dir of an old tree: ours to fill
                        step("make writable a dir of", rel, os.chmod, e.path, mode | stat.S_IRWXU)
                        modes[rel] = mode | stat.S_IRWXU
                        touched.add(rel)
                    stack.append(rel)
                else:
                    step("clear the spare of", rel, remove_tree, e.path)
                    touched.add(rel_dir)
            elif rel in linked and e.inode() == tree.inodes.get(rel):
                kept.add(rel)
            else:
                step("clear the spare of", rel, os.unlink, e.path)
                touched.add(rel_dir)
    for rel in sorted(tree.dirs):  # parents sort before their children
        if rel not in modes:
            step("create a dir of", rel, os.mkdir, os.path.join(spare, rel))
            touched.add(os.path.dirname(rel))
    half = len(tree.links) // 2
    for i, rel in enumerate(tree.links):
        if i == half:
            pause("while linking")
        if rel not in kept:
            step("link this file into", rel, _link, where(rel), os.path.join(spare, rel))
            touched.add(os.path.dirname(rel))
    for src, rel in tree.moves:
        if link_staged:
            step("link a new file into", rel, _link, src, os.path.join(spare, rel))
        else:
            step("move a new file into", rel, os.rename, src, os.path.join(spare, rel))
        touched.update((os.path.dirname(rel), rel))
    for rel, mode in tree.copies:
        step("copy this file into", rel, _copy, where(rel), os.path.join(spare, rel), mode)
        touched.update((os.path.dirname(rel), rel))
    default = 0o777 & ~_umask()
    for rel, mode in sorted(tree.dirs.items(), reverse=True):  # children first
        want = default if mode is None else mode
        if modes.get(rel, default) != want:
            step("set the mode of a dir of", rel, os.chmod, os.path.join(spare, rel), want)
            touched.add(rel)
    want = default if tree.root_mode is None else tree.root_mode
    if stat.S_IMODE(os.stat(spare).st_mode) != want:
        step("set the mode of", "", os.chmod, spare, want)
    return touched


def _make_durable(spare: str, touched: set[str]) -> None:
    """Put what the new tree needs on disk before the swap, so a power cut keeps it.

    A few paths are fsynced one by one; many (a first compile) at once with
    ``syncfs``, which is then cheaper than thousands of fsyncs.
    """
    if len(touched) > _FSYNC_AT_MOST:
        flush_file_system(spare)
        return
    for rel in sorted(touched, key=lambda r: -r.count("/")):  # files and children first
        path = os.path.join(spare, rel) if rel else spare
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _prune_spare(tree: Tree, spare: str) -> set[str]:
    """Remove from the old tree, now the spare, every file the new tree does not share.

    Returns the dirs it changed.
    """
    for rel in tree.gone:
        with contextlib.suppress(OSError):  # else the next commit's sync removes it
            os.unlink(os.path.join(spare, rel))
    for rel in tree.gone_dirs:
        remove_tree(os.path.join(spare, rel))
    return {os.path.dirname(rel) for rel in (*tree.gone, *tree.gone_dirs)}


def _adopt_shells(staging: Staging, compiled_dir: str, spare: str, dirs: dict[str, int]) -> None:
    """Keep the staging area's tree, whose files the commit linked in, as the next spare.

    The old tree lacked most of the new one's dirs (a first compile into an
    empty ``compiled/``), so it would make a poor spare: the next commit would
    create thousands of dirs, which costs more than compiling a few targets.
    The staged tree holds the compiled targets' files, the very ones of
    ``compiled/``. The record vouches only for the dirs found alike in both
    trees (``spare.save_paired``): the next commit reads the others.
    """
    with contextlib.suppress(OSError):
        os.unlink(os.path.join(staging.root, RECORD_NAME))
    try:
        remove_tree(spare)
        os.rename(staging.compiled, spare)
    except OSError:
        return  # only a spare: the next commit makes what it lacks
    with contextlib.suppress(OSError):  # only a hint: without it the next commit walks both
        save_paired(staging.root, compiled_dir, spare, dirs)


def _link(src: str, dst: str) -> None:
    os.link(src, dst, follow_symlinks=False)


def _copy(src: str, dst: str, mode: int) -> None:
    import shutil

    shutil.copy2(src, dst, follow_symlinks=False)
    os.chmod(dst, mode)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def commit(staging: Staging, compiled_dir: str, manifests: list[Manifest],
           all_target_dirs: set[str], full: bool, keep_spare: bool = True,
           intact: dict[str, Stamp] | None = None, old: OldTree | None = None
           ) -> Committed | None:
    """Make ``compiled/`` hold exactly the staged output of these targets, all or nothing.

    With ``full`` (every target of the inventory compiled), anything in
    ``compiled/`` that belongs to no target is removed too. Returns None when
    the new tree would be the old one (``compiled/`` is left as it is).
    On a write error raises :class:`UserError` with ``compiled/`` as it was.
    A SIGINT or SIGTERM during the swap itself is acted on once it is done.
    ``keep_spare=False`` (a ``--reveal`` run) keeps no spare: it would hold
    links to the revealed files after ``compiled/`` is gone.

    ``intact``: the dirs of targets not compiled that this run's cache found
    holding exactly their output, with the stamps they had then. Such a dir
    that the record vouches for comes from the spare without a look at
    ``compiled/``: the new tree holds the target's output even if something
    changed it since the check. ``old``: the old tree as :func:`read_old_tree`
    read it already (with ``intact`` and every compiled target's dir).
    """
    if unchanged(compiled_dir, manifests, all_target_dirs, full):
        return None
    new_root = staging.next
    if old is None:
        old = read_old_tree(staging, compiled_dir, {m.target_dir for m in manifests},
                            all_target_dirs, full, intact)
    started_ns, record = old.started_ns, old.walk.record
    tree = plan_tree(compiled_dir, staging.compiled, manifests, all_target_dirs, full, old)
    if not tree.differs:
        return None
    # A first compile (the old tree lacks most dirs of the new one) would make a
    # poor spare: its staged dirs are kept as the spare instead (_adopt_shells),
    # with the new files linked, not moved, so that the two trees match.
    adopt = keep_spare and tree.old_dirs * 2 < len(tree.dirs)
    touched = sync_tree(tree, compiled_dir, new_root, record, link_staged=adopt)
    try:
        _make_durable(new_root, touched)  # a power cut after the swap still finds them
    except OSError as exc:
        raise UserError.of(f"cannot flush the new tree to disk: {exc.strerror}",
                           path=compiled_dir) from exc
    pause("before the swap")
    visible_ns = time.time_ns()
    with signals_held() as noted:
        try:
            swap(new_root, compiled_dir, staging.root)
        except OSError as exc:
            raise UserError.of(f"cannot replace it with the new tree: {exc.strerror or exc}",
                               path=compiled_dir) from exc
    if noted:
        raise KeyboardInterrupt(f"signal {noted[0]}")
    pause("after the swap")
    default = 0o777 & ~_umask()
    modes = {d: default if m is None else m for d, m in tree.dirs.items()}
    if adopt:
        _adopt_shells(staging, compiled_dir, new_root, modes)
    elif keep_spare:
        changed = touched | _prune_spare(tree, new_root) | {""}
        try:
            save_record(staging.root, modes, record, tree.trusted, tree.live_stamps,
                        tree.spare_stamps, changed, started_ns)
        except OSError:  # only a hint: without it the next commit walks both trees
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(staging.root, RECORD_NAME))
    else:
        remove_tree(new_root)
    new = {rel: st for rel, st in tree.spare_stamps.items() if rel not in touched}
    return Committed(tree.live_stamps, visible_ns, new)
