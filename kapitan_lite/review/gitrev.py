"""Git revisions as directories on disk, without touching the user's repository.

A revision is materialised into a temporary directory through a private,
temporary index: ``git read-tree`` fills it from the revision, and ``git
checkout-index --prefix`` writes the files out (with the same filters,
symlinks and executable bits a checkout has). Neither command writes to the
repository: its working tree, index, HEAD, branches, stash and worktree list
(``.git/worktrees``) stay exactly as they were, so there is nothing to undo,
even when the run is killed. The temporary directory is removed when the
``with`` block ends, on Ctrl-C and SIGTERM too (``run_action`` turns SIGTERM
into KeyboardInterrupt).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ..errors import KapitanLiteError


class RevisionError(KapitanLiteError):
    """A revision cannot be used: not a repository, an unknown revision, no such project."""


@dataclass(frozen=True)
class Repository:
    """An open repository and where the project lies in it."""

    repo: object  # git.Repo; typed loosely so importing this module does not import git
    top: str  # the working tree's top directory
    subdir: str  # the project root relative to ``top`` ("" at the top)

    def resolve(self, rev: str) -> str:
        """The commit id of ``rev``; :class:`RevisionError` when there is none."""
        import git

        try:
            return self.repo.commit(rev).hexsha  # type: ignore[attr-defined]
        except (git.BadName, git.BadObject, ValueError, git.GitCommandError):
            raise RevisionError(f"unknown revision {rev!r}") from None

    def describe(self, rev: str, sha: str) -> str:
        """``REV (abc1234)`` for reports."""
        return f"{rev} ({sha[:8]})" if not sha.startswith(rev) else sha[:8]


def open_repository(project_root: str) -> Repository:
    """The git repository holding ``project_root``; :class:`RevisionError` when none does."""
    try:
        import git
    except ImportError as exc:  # pragma: no cover - GitPython is a dependency
        raise RevisionError(f"GitPython is not installed ({exc})") from None
    try:
        repo = git.Repo(project_root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise RevisionError(f"not in a git repository: {project_root}") from None
    except git.GitCommandNotFound:
        raise RevisionError("the git command is not installed") from None
    if repo.bare or not repo.working_tree_dir:
        raise RevisionError(f"not in a git working tree: {project_root}")
    top = os.path.realpath(str(repo.working_tree_dir))
    subdir = os.path.relpath(os.path.realpath(project_root), top)
    return Repository(repo, top, "" if subdir == "." else subdir.replace(os.sep, "/"))


def materialise(repository: Repository, sha: str, dest: str,
                keep: Callable[[str], bool] | None = None) -> str:
    """Write the project directory of commit ``sha`` into ``dest``; return ``dest``.

    ``keep(path)`` (paths relative to the project root) chooses the files;
    all of them by default.
    """
    import git

    git_cmd = repository.repo.git  # type: ignore[attr-defined]
    tree = f"{sha}:{repository.subdir}" if repository.subdir else f"{sha}^{{tree}}"
    work = tempfile.mkdtemp(prefix="index-", dir=os.path.dirname(dest))
    env = {"GIT_INDEX_FILE": os.path.join(work, "index")}
    try:
        try:
            git_cmd.read_tree(tree, env=env)
        except git.GitCommandError:
            where = repository.subdir or "the repository root"
            raise RevisionError(f"{where} does not exist at {sha[:8]}") from None
        names = [n for n in git_cmd.ls_files("-z", env=env).split("\0") if n]
        if keep is not None:
            names = [n for n in names if keep(n)]
        os.makedirs(dest, exist_ok=True)
        list_file = os.path.join(work, "paths")
        with open(list_file, "w", encoding="utf-8") as fp:
            fp.write("\0".join(names))
        with open(list_file, "rb") as stdin:
            git_cmd.checkout_index("-z", "--stdin", "-f", f"--prefix={dest.rstrip('/')}/",
                                   env=env, istream=stdin)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


def changed_paths(repository: Repository, base: str, head: str | None) -> set[str]:
    """Files of the project (relative to its root) that differ between commit
    ``base`` and commit ``head``, or the working tree (untracked files included,
    ignored files not) when ``head`` is ``None``. Writes nothing, not even the
    index's cached file stats (``GIT_OPTIONAL_LOCKS=0``).
    """
    git_cmd = repository.repo.git  # type: ignore[attr-defined]
    env = {"GIT_OPTIONAL_LOCKS": "0"}
    spec = repository.subdir or "."
    out = git_cmd.diff("--name-only", "--no-renames", "-z", base, *([head] if head else []),
                       "--", spec, env=env)
    if head is None:
        out += "\0" + git_cmd.ls_files("--others", "--exclude-standard", "-z", "--", spec,
                                       env=env)
    prefix = repository.subdir + "/" if repository.subdir else ""
    return {p[len(prefix):] for p in out.split("\0") if p and p.startswith(prefix)}


RAM_DIR = "/dev/shm"
RAM_DIR_MIN_FREE = 1 << 30  # use it only when it has room to spare


def _scratch_parent() -> str | None:
    """Where scratch dirs go: ``$TMPDIR`` when set; else the RAM-backed
    ``/dev/shm`` when it has a GiB free (creating and removing thousands of
    small files there costs a fraction of what it costs on disk); else the
    system's temporary directory.
    """
    if os.environ.get("TMPDIR"):
        return None
    try:
        st = os.statvfs(RAM_DIR)
    except OSError:
        return None
    if st.f_bavail * st.f_frsize >= RAM_DIR_MIN_FREE and os.access(RAM_DIR, os.W_OK | os.X_OK):
        return RAM_DIR
    return None


@contextmanager
def scratch() -> Iterator[str]:
    """A temporary directory for one review run, removed however the run ends."""
    path = tempfile.mkdtemp(prefix="kcompile-review-", dir=_scratch_parent())
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
