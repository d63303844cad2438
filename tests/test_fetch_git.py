"""git dependencies: refs, subdir, submodules, the lock, --locked, --update, --offline, force.

Real repositories in temp dirs, served by file://, and the real CLI.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import yaml
from conftest import kcompile
from fetch_support import GitRepo, write_project


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"KCOMPILE_CACHE_DIR": str(tmp_path / "cache")}


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    r = GitRepo(tmp_path / "upstream")
    r.commit({"lib/gen.py": "VERSION = 1\n", "README.md": "v1\n", "lib/.hidden": "h\n"})
    r.tag("v1")
    return r


def lock_pins(project: Path) -> dict[tuple, dict]:
    data = yaml.safe_load((project / "kcompile.lock").read_text())
    return {(e["type"], e["source"], e.get("ref")): e["pin"] for e in data["dependencies"]}


def test_refs_subdir_and_the_lock(tmp_path, repo, env):
    c1 = repo.head()
    repo.branch("dev")
    c2 = repo.commit({"lib/gen.py": "VERSION = 2\n"})
    repo.checkout("main")
    c3 = repo.commit({"lib/gen.py": "VERSION = 3\n"})
    p = write_project(tmp_path / "p", {"t": [
        {"type": "git", "source": repo.url, "ref": "v1", "subdir": "lib", "output_path": "vendor/tag"},
        {"type": "git", "source": repo.url, "ref": "dev", "output_path": "vendor/branch"},
        {"type": "git", "source": repo.url, "ref": c1[:10], "output_path": "vendor/sha"},
        {"type": "git", "source": repo.url, "output_path": "vendor/head"},
    ]})
    run = kcompile("fetch", cwd=p, env=env)
    assert run.code == 0, run.err
    assert (p / "vendor/tag/gen.py").read_text() == "VERSION = 1\n"
    assert not (p / "vendor/tag/.hidden").exists()  # unforced: dotfiles are not copied
    assert (p / "vendor/branch/lib/gen.py").read_text() == "VERSION = 2\n"
    assert (p / "vendor/sha/lib/gen.py").read_text() == "VERSION = 1\n"
    assert (p / "vendor/head/lib/gen.py").read_text() == "VERSION = 3\n"
    assert not (p / "vendor/head/.git").exists()
    assert (p / "vendor/head").stat().st_mode & 0o777 == 0o755
    assert lock_pins(p) == {("git", repo.url, "v1"): {"commit": c1},
                            ("git", repo.url, "dev"): {"commit": c2},
                            ("git", repo.url, c1[:10]): {"commit": c1},
                            ("git", repo.url, None): {"commit": c3}}
    text = (p / "kcompile.lock").read_text()
    # Stable: a second fetch of an unchanged lock leaves it (and the files) as they are.
    mtime = (p / "vendor/tag/gen.py").stat().st_mtime_ns
    run = kcompile("fetch", cwd=p, env=env)
    assert run.code == 0, run.err
    assert (p / "kcompile.lock").read_text() == text
    assert (p / "vendor/tag/gen.py").stat().st_mtime_ns == mtime
    run = kcompile("fetch", "--force", cwd=p, env=env)  # forced: the dotfiles too
    assert run.code == 0 and "4 files written" in run.err, run.err
    assert (p / "vendor/tag/.hidden").exists()
    run = kcompile("fetch", "--force", cwd=p, env=env)  # forced, same bytes: nothing written
    assert run.code == 0 and "0 files written" in run.err, run.err
    assert (p / "vendor/tag/gen.py").stat().st_mtime_ns == mtime
    # A dependency no longer declared leaves the lock on a full fetch.
    write_project(p, {"t": [{"type": "git", "source": repo.url, "ref": "v1", "subdir": "lib",
                             "output_path": "vendor/tag"}]})
    assert kcompile("fetch", cwd=p, env=env).code == 0
    assert lock_pins(p) == {("git", repo.url, "v1"): {"commit": c1}}
    run = kcompile("fetch", "--update", "file:///elsewhere", cwd=p, env=env)
    assert run.code == 2 and "--update file:///elsewhere: no selected target has" in run.err


def test_a_symlink_out_of_the_dependency_is_refused(tmp_path, env):
    r = GitRepo(tmp_path / "up")
    r.commit({"ok.txt": "ok\n"})
    (r.path / "link").symlink_to("../../../../etc/passwd")
    r.commit({})
    p = write_project(tmp_path / "p", {"t": [{"type": "git", "source": r.url, "output_path": "v"}]})
    run = kcompile("fetch", cwd=p, env=env)
    assert run.code == 2
    assert "link is a symlink out of the dependency (to ../../../../etc/passwd)" in run.err
    assert not (p / "v").exists()


def test_two_sources_into_one_output_path_merge(tmp_path, repo, env):
    other = GitRepo(tmp_path / "other")
    other.commit({"lib/other.py": "O = 1\n"})
    p = write_project(tmp_path / "p", {"t": [
        {"type": "git", "source": repo.url, "ref": "v1", "output_path": "vendor"},
        {"type": "git", "source": other.url, "output_path": "vendor"},
        {"type": "git", "source": other.url, "output_path": "vendor"},  # skipped: same pair
    ]})
    run = kcompile("fetch", cwd=p, env=env)
    assert run.code == 0, run.err
    assert sorted(x.name for x in (p / "vendor/lib").iterdir()) == ["gen.py", "other.py"]
    assert "fetched 2 dependencies" in run.err


def test_submodules(tmp_path, env):
    sub = GitRepo(tmp_path / "sub")
    sub.commit({"mod.txt": "inside\n"})
    top = GitRepo(tmp_path / "top")
    top.commit({"a.txt": "a\n"})
    top.add_submodule(sub, "ext/sub")
    p = write_project(tmp_path / "p", {"t": [
        {"type": "git", "source": top.url, "submodules": True, "output_path": "with"},
        {"type": "git", "source": top.url, "subdir": "ext/sub", "submodules": True,
         "output_path": "only"},
        {"type": "git", "source": top.url, "output_path": "without"},
    ]})
    run = kcompile("fetch", cwd=p, env=env)
    assert run.code == 0, run.err
    assert (p / "with/ext/sub/mod.txt").read_text() == "inside\n"
    assert (p / "only/mod.txt").read_text() == "inside\n"
    assert (p / "without/a.txt").exists()
    assert not (p / "without/ext/sub/mod.txt").exists()


def test_missing_ref_and_subdir_all_at_once_and_located(tmp_path, repo, env):
    p = write_project(tmp_path / "p", {"t": []}, classes={"deps": {"kapitan": {"dependencies": [
        {"type": "git", "source": repo.url, "ref": "v9", "output_path": "a"},
        {"type": "git", "source": repo.url, "ref": "v1", "subdir": "nope", "output_path": "b"},
        {"type": "git", "source": repo.url, "ref": "v1", "output_path": "good"},
    ]}}})
    run = kcompile("fetch", cwd=p, env=env)
    assert run.code == 2
    cls = "inventory/classes/deps.yml"
    assert run.err_lines[:2] == [
        f"{cls}:4: t: dependency git {repo.url}: ref v9 not found",
        f"{cls}:8: t: dependency git {repo.url}: subdir nope not found at ref v1 "
        f"({repo.head()[:12]})",
    ]
    assert "Traceback" not in run.err
    assert (p / "good/lib/gen.py").exists()  # the others are fetched all the same
    assert not (p / "a").exists() and not (p / "b").exists()


def test_locked_update_force_and_all_or_nothing(tmp_path, repo, env):
    c1 = repo.head()
    p = write_project(tmp_path / "p", {"t": [
        {"type": "git", "source": repo.url, "ref": "v1", "output_path": "vendor/gen", "subdir": "lib"},
    ]})
    assert kcompile("fetch", cwd=p, env=env).code == 0
    lock = (p / "kcompile.lock").read_text()
    # Upstream moves the tag.
    c2 = repo.commit({"lib/gen.py": "VERSION = 2\n"})
    repo.tag("v1", force=True)
    run = kcompile("fetch", "--locked", cwd=p, env=env)
    assert run.code == 2
    assert (f"dependency git {repo.url}: differs from kcompile.lock: commit {c1} in "
            f"kcompile.lock, {c2} upstream") in run.err
    assert (p / "kcompile.lock").read_text() == lock
    # While the lock exists, a fetch uses what it pins, even forced.
    (p / "vendor/gen/gen.py").write_text("local edit\n")
    assert kcompile("fetch", cwd=p, env=env).code == 0
    assert (p / "vendor/gen/gen.py").read_text() == "local edit\n"  # kept: not forced
    assert kcompile("fetch", "--force", cwd=p, env=env).code == 0
    assert (p / "vendor/gen/gen.py").read_text() == "VERSION = 1\n"
    (p / "vendor/gen/mine.txt").write_text("mine\n")
    # --update SOURCE moves the lock forward; --force replaces the files.
    run = kcompile("fetch", "--update", repo.url, "--force", cwd=p, env=env)
    assert run.code == 0, run.err
    assert (p / "vendor/gen/gen.py").read_text() == "VERSION = 2\n"
    assert (p / "vendor/gen/mine.txt").read_text() == "mine\n"  # files of our own stay
    assert lock_pins(p)[("git", repo.url, "v1")] == {"commit": c2}
    assert kcompile("fetch", "--locked", cwd=p, env=env).code == 0
    # The tag moves to a commit without the subdir: the update fails, the old files stay.
    repo.commit({"lib/gen.py": None, "lib/.hidden": None, "other.txt": "x\n"})
    repo.tag("v1", force=True)
    run = kcompile("fetch", "--update", "--force", cwd=p, env=env)
    assert run.code == 2 and "subdir lib not found" in run.err
    assert (p / "vendor/gen/gen.py").read_text() == "VERSION = 2\n"
    assert lock_pins(p)[("git", repo.url, "v1")] == {"commit": c2}
    assert not [x for x in (p / "vendor").iterdir() if x.name.startswith(".kcompile")]


def test_offline_from_the_cache_and_offline_miss(tmp_path, repo, env):
    p = write_project(tmp_path / "p", {"t": [
        {"type": "git", "source": repo.url, "ref": "v1", "output_path": "vendor/gen"},
    ]})
    assert kcompile("fetch", cwd=p, env=env).code == 0
    shutil.rmtree(p / "vendor")
    shutil.rmtree(repo.path)  # upstream is gone
    dead = p / "vendor/.kcompile-fetch-killed"  # left by a run killed two hours ago
    (dead / "x").mkdir(parents=True)
    os.utime(dead, (time.time() - 7200,) * 2)
    run = kcompile("fetch", "--offline", cwd=p, env=env)
    assert run.code == 0, run.err
    assert not dead.exists()
    assert (p / "vendor/gen/lib/gen.py").read_text() == "VERSION = 1\n"
    # Another cache (a new machine): offline names what it lacks.
    run = kcompile("fetch", "--offline", cwd=p, env={"KCOMPILE_CACHE_DIR": str(tmp_path / "c2")})
    assert run.code == 2
    assert run.err_lines[0] == (f"inventory/targets/t.yml:6: t: dependency git {repo.url}: "
                                "not in the cache (--offline)")
    # A dependency the lock does not pin cannot be resolved offline.
    write_project(p, {"t": [{"type": "git", "source": repo.url, "ref": "v2", "output_path": "x"}]})
    run = kcompile("fetch", "--offline", cwd=p, env=env)
    assert run.code == 2 and "not in kcompile.lock, and --offline cannot resolve it" in run.err
