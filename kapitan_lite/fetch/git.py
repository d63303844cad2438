"""git dependencies: ``source``, ``ref`` (branch, tag or SHA; the default branch when absent),
``subdir`` and ``submodules``, through the git command line.

Each repository is kept as a bare mirror in the content cache. Resolving a
ref fetches the mirror once per run and gives ``{"commit": sha}``; writing a
commit fetches only when the mirror does not hold it yet, and never offline.
Files are written by ``git checkout-index`` from a private index, so line
endings and filters are those of a checkout, as Kapitan's clone gives.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
from urllib.parse import urljoin

from .base import Dependency, FetchContext, FetchError, Pin

_SHA = re.compile(r"^[0-9a-f]{40}$")
_HEX = re.compile(r"^[0-9a-f]{4,40}$")
# Never ask for credentials on a terminal: a fetch fails instead of hanging.
_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"}


def _git(*args: str, git_dir: str | None = None, work_tree: str | None = None,
         env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run git; a failure (with ``check``) is a :class:`FetchError` with git's last message line."""
    cmd = ["git"]
    if git_dir:
        cmd.append(f"--git-dir={git_dir}")
    if work_tree:
        cmd.append(f"--work-tree={work_tree}")
    try:
        proc = subprocess.run([*cmd, *args], capture_output=True, text=True,
                              env={**os.environ, **_ENV, **(env or {})}, check=False)
    except FileNotFoundError:
        raise FetchError("git is not installed (git dependencies need the git command)") from None
    if check and proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        raise FetchError(lines[-1].removeprefix("fatal: ") if lines else f"git {args[0]} failed")
    return proc


class GitFetcher:
    """Fetches git dependencies through bare mirrors in the content cache."""

    def __init__(self) -> None:
        self._refreshed: set[str] = set()  # mirrors fetched from upstream this run
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, mirror: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(mirror, threading.Lock())

    def _mirror(self, source: str, ctx: FetchContext, refresh: bool) -> str:
        """The mirror of ``source``, cloned if absent, fetched once per run if ``refresh``."""
        mirror = ctx.cache.git_dir(source)
        with self._lock(mirror):
            if not os.path.isdir(mirror):
                if ctx.offline:
                    raise FetchError("not in the cache (--offline)")
                os.makedirs(os.path.dirname(mirror), exist_ok=True)
                tmp = tempfile.mkdtemp(dir=os.path.dirname(mirror), prefix=".tmp-")
                try:
                    _git("clone", "--mirror", "--quiet", "--", source, tmp)
                    try:
                        os.replace(tmp, mirror)
                    except OSError:
                        if not os.path.isdir(mirror):  # else another run cloned it first
                            raise
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
                self._refreshed.add(mirror)
            elif refresh and mirror not in self._refreshed and not ctx.offline:
                _git("fetch", "--prune", "--force", "--quiet", "origin", git_dir=mirror)
                self._refreshed.add(mirror)
        return mirror

    @staticmethod
    def _commit_of(mirror: str, ref: str | None) -> str | None:
        """The commit ``ref`` names in ``mirror`` (HEAD when None), or None."""
        if ref is None:
            candidates = ["HEAD"]
        else:
            candidates = [f"refs/heads/{ref}", f"refs/tags/{ref}"]
            if _HEX.match(ref):
                candidates.append(ref)
        for cand in candidates:
            proc = _git("rev-parse", "--verify", "--quiet", f"{cand}^{{commit}}",
                        git_dir=mirror, check=False)
            if proc.returncode == 0 and proc.stdout.strip():
                return proc.stdout.strip()
        return None

    def resolve(self, dep: Dependency, ctx: FetchContext) -> Pin:
        """The commit ``dep``'s ref names upstream now."""
        ref = dep.option("ref")
        if ref is not None:
            ref = str(ref)
            if ref.startswith("-"):
                raise FetchError(f"ref {ref} is not a valid ref")
        mirror = self._mirror(dep.source, ctx, refresh=True)
        commit = self._commit_of(mirror, ref)
        if commit is None and ref is not None and _SHA.match(ref) and not ctx.offline:
            # A commit no branch or tag reaches: servers that allow it fetch it by SHA.
            with self._lock(mirror):
                _git("fetch", "--quiet", "origin", ref, git_dir=mirror, check=False)
            commit = self._commit_of(mirror, ref)
        if commit is None:
            raise FetchError(f"ref {ref} not found" if ref else "the repository has no default branch")
        return {"commit": commit}

    def _ensure_commit(self, source: str, commit: str, ctx: FetchContext) -> str:
        """The mirror of ``source``, holding ``commit`` (fetched if need be)."""
        if not _SHA.match(commit):
            raise FetchError(f"the lock's commit {commit!r} is not a SHA")
        mirror = self._mirror(source, ctx, refresh=False)

        def has() -> bool:
            return _git("cat-file", "-e", f"{commit}^{{commit}}", git_dir=mirror,
                        check=False).returncode == 0

        if has():
            return mirror
        if ctx.offline:
            raise FetchError(f"commit {commit} is not in the cache (--offline)")
        self._mirror(source, ctx, refresh=True)
        if not has():
            with self._lock(mirror):
                _git("fetch", "--quiet", "origin", commit, git_dir=mirror, check=False)
        if not has():
            raise FetchError(f"commit {commit} not found upstream")
        return mirror

    def listing(self, dep: Dependency, pin: Pin, ctx: FetchContext) -> dict[str, str] | None:
        """The files ``materialize`` would write and their blob ids, read from the mirror.

        None with submodules, or when the mirror lacks the commit or the subdir.
        """
        commit = pin.get("commit", "")
        if dep.option("submodules", False) or not _SHA.match(commit):
            return None
        mirror = ctx.cache.git_dir(dep.source)
        if not os.path.isdir(mirror):
            return None
        subdir = dep.option("subdir")
        tree = f"{commit}:{str(subdir).strip('/')}" if subdir not in (None, "") else commit
        proc = _git("ls-tree", "-r", "-z", tree, git_dir=mirror, check=False)
        if proc.returncode != 0:
            return None
        out = {}
        for entry in proc.stdout.split("\0"):
            meta, _, path = entry.partition("\t")
            parts = meta.split()
            if len(parts) == 3 and parts[1] == "blob":
                out[path] = parts[2]
        return out

    def materialize(self, dep: Dependency, pin: Pin, ctx: FetchContext, dest: str) -> None:
        """Write the tree of the pinned commit (its ``subdir``, with submodules if asked) into ``dest``."""
        commit = pin.get("commit", "")
        mirror = self._ensure_commit(dep.source, commit, ctx)
        subdir = dep.option("subdir")
        subdir = str(subdir).strip("/") if subdir not in (None, "") else None
        if not dep.option("submodules", False):
            tree = f"{commit}:{subdir}" if subdir else commit
            if subdir and _git("cat-file", "-t", tree, git_dir=mirror,
                               check=False).stdout.strip() != "tree":
                raise FetchError(f"subdir {subdir} not found at {self._at(dep, commit)}")
            self._checkout(mirror, tree, dest, ctx)
            return
        # Submodules may hold the subdir: check out the whole commit beside dest first.
        work = tempfile.mkdtemp(dir=os.path.dirname(dest), prefix=".kcompile-git-")
        try:
            self._checkout(mirror, commit, work, ctx)
            self._submodules(dep.source, mirror, commit, work, ctx)
            if not subdir:
                _move_contents(work, dest)
                return
            src = os.path.join(work, subdir)
            if not os.path.isdir(src) or os.path.islink(src) or \
                    not os.path.realpath(src).startswith(os.path.realpath(work) + os.sep):
                raise FetchError(f"subdir {subdir} not found at {self._at(dep, commit)}")
            _move_contents(src, dest)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    @staticmethod
    def _at(dep: Dependency, commit: str) -> str:
        ref = dep.option("ref")
        return f"ref {ref} ({commit[:12]})" if ref else f"commit {commit[:12]}"

    @staticmethod
    def _checkout(mirror: str, tree: str, dest: str, ctx: FetchContext) -> None:
        """Check out ``tree`` (a commit or ``commit:path``) into the directory ``dest``."""
        fd, index = tempfile.mkstemp(dir=ctx.scratch or None, prefix="index-")
        os.close(fd)
        os.unlink(index)  # git wants to create it
        env = {"GIT_INDEX_FILE": index}
        try:
            _git("read-tree", tree, git_dir=mirror, env=env)
            _git("checkout-index", "--all", "--force", git_dir=mirror, work_tree=dest, env=env)
        finally:
            if os.path.exists(index):
                os.unlink(index)

    def _submodules(self, source: str, mirror: str, commit: str, work: str,
                    ctx: FetchContext) -> None:
        """Check out each submodule of ``commit`` at its recorded commit (one level, as Kapitan)."""
        proc = _git("config", "--blob", f"{commit}:.gitmodules", "--get-regexp",
                    r"^submodule\..*\.(path|url)$", git_dir=mirror, check=False)
        modules: dict[str, dict[str, str]] = {}
        for line in proc.stdout.splitlines():
            key, _, value = line.partition(" ")
            name, _, field = key.removeprefix("submodule.").rpartition(".")
            modules.setdefault(name, {})[field] = value
        for name in sorted(modules):
            path, url = modules[name].get("path"), modules[name].get("url")
            if not path or not url:
                continue
            entry = _git("ls-tree", commit, "--", path, git_dir=mirror).stdout.split()
            if len(entry) < 3 or entry[1] != "commit":
                continue  # .gitmodules names a path that holds no submodule
            if url.startswith(("./", "../")):
                url = urljoin(source.rstrip("/") + "/", url)
            target = os.path.realpath(os.path.join(work, path))
            if not target.startswith(os.path.realpath(work) + os.sep):
                raise FetchError(f"submodule {name}: path {path} is outside the repository")
            try:
                sub_mirror = self._ensure_commit(url, entry[2], ctx)
            except FetchError as exc:
                raise FetchError(f"submodule {path} ({url}): {exc.message}") from None
            os.makedirs(target, exist_ok=True)
            self._checkout(sub_mirror, entry[2], target, ctx)


def _move_contents(src: str, dest: str) -> None:
    """Move every entry of directory ``src`` into directory ``dest`` (same filesystem)."""
    for name in os.listdir(src):
        os.replace(os.path.join(src, name), os.path.join(dest, name))
