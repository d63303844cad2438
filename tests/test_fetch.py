"""Fetch with compile: the triggers (--fetch, .kapitan, force_fetch), -t, the --fetch hint,
the incremental cache seeing fetched files, and located errors in the inventory and the lock."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import content, kcompile
from fetch_support import GitRepo, http_server, tar_gz, write_project
from refs_support import KAPITAN, needs_kapitan


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"KCOMPILE_CACHE_DIR": str(tmp_path / "cache")}


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    r = GitRepo(tmp_path / "templates")
    r.commit({"tpl/app.yml": "version: 1\ntarget: {{ inventory.parameters.target_name }}\n"})
    return r


def project(root: Path, repo: GitRepo, other_url: str, force_fetch: bool = False) -> Path:
    dep = {"type": "git", "source": repo.url, "ref": "main", "output_path": "vendor/tpl"}
    if force_fetch:
        dep["force_fetch"] = True
    item = {"input_type": "jinja2", "input_paths": ["vendor/tpl/tpl/app.yml"], "output_path": "."}
    return write_project(root, {
        "t1": [dep],
        "t2": [{"type": "http", "source": other_url, "output_path": "vendor/other.yml"}],
    }, compile_items={"t1": [item], "t2": []})


def test_hint_fetch_only_selected_and_the_cache_sees_new_versions(tmp_path, repo, env):
    with http_server() as srv:
        p = project(tmp_path / "p", repo, srv.serve("/other.yml", "x: 1\n"))
        run = kcompile("-t", "t1", cwd=p, env=env)
        assert run.code == 2
        assert ("t1: compile[0]: input path vendor/tpl/tpl/app.yml not found (searched ., lib): "
                "a dependency of this target writes it, run with --fetch") in run.err
        run = kcompile("-t", "t1", "--fetch", cwd=p, env=env)
        assert run.code == 0, run.err
        assert (p / "compiled/t1/app.yml").read_text() == "version: 1\ntarget: t1"
        assert srv.requests == [] and not (p / "vendor/other.yml").exists()  # t2's: not asked
        repo.commit({"tpl/app.yml": "version: 2\n"})
        assert kcompile("-t", "t1", "--fetch", cwd=p, env=env).code == 0  # the lock pins main
        assert (p / "compiled/t1/app.yml").read_text().startswith("version: 1")
        run = kcompile("fetch", "-t", "t1", "--update", "--force", cwd=p, env=env)
        assert run.code == 0, run.err
        assert (p / "vendor/tpl/tpl/app.yml").read_text() == "version: 2\n"
        run = kcompile("-t", "t1", cwd=p, env=env)
        assert run.code == 0, run.err
        assert "1 compiled" in run.err  # the cache saw the fetched file change
        assert (p / "compiled/t1/app.yml").read_text() == "version: 2"
        # Upstream gone: a forced fetch from the cache alone (--force: deprecated --force-fetch).
        shutil.rmtree(repo.path)
        (p / "vendor/tpl/tpl/app.yml").write_text("edited\n")
        run = kcompile("-t", "t1", "--force", "--offline", cwd=p, env=env)
        assert run.code == 0, run.err
        assert "--force is deprecated" in run.err
        assert (p / "vendor/tpl/tpl/app.yml").read_text() == "version: 2\n"


def test_dotkapitan_fetch_true_and_force_fetch(tmp_path, repo, env):
    with http_server() as srv:
        p = project(tmp_path / "p", repo, srv.serve("/other.yml", "x: 1\n"), force_fetch=True)
        # force_fetch: a plain compile fetches t1's dependencies, forced, and only those.
        run = kcompile("-t", "t1", cwd=p, env=env)
        assert run.code == 0, run.err
        assert (p / "compiled/t1/app.yml").exists()
        (p / "vendor/tpl/tpl/app.yml").write_text("edited\n")
        assert kcompile("-t", "t1", cwd=p, env=env).code == 0
        assert (p / "vendor/tpl/tpl/app.yml").read_text().startswith("version: 1")
        assert not (p / "vendor/other.yml").exists()
        (p / ".kapitan").write_text("compile:\n  fetch: true\n")
        run = kcompile(cwd=p, env=env)
        assert run.code == 0, run.err
        assert (p / "vendor/other.yml").read_text() == "x: 1\n"


def test_bad_dependencies_are_located_all_at_once(tmp_path, env):
    p = write_project(tmp_path / "p", {"t": [
        {"type": "git", "source": "file:///nowhere/a", "submodules": "yes", "output_path": "a"},
        {"type": "git", "source": "file:///nowhere/b"},
        {"type": "http", "source": "http://127.0.0.1:9/x", "output_path": "../outside"},
    ], "u": [{"type": "git", "source": "file:///nowhere/c", "branch": "x", "output_path": "c"}]})
    run = kcompile("fetch", cwd=p, env=env)
    assert run.code == 2
    assert run.err_lines[3] == ("inventory/targets/u.yml:8: u: parameters.kapitan.dependencies[0]: "
                                "unknown key(s) 'branch'")
    assert run.err_lines[:3] == [
        "inventory/targets/t.yml:6: t: dependency: submodules must be true or false, got 'yes'",
        "inventory/targets/t.yml:10: t: dependency: git dependency without output_path",
        "inventory/targets/t.yml:12: t: dependency http http://127.0.0.1:9/x: output_path "
        "../outside is outside the project",
    ]


def test_a_bad_lock_is_a_located_error(tmp_path, repo, env):
    p = write_project(tmp_path / "p", {"t": [
        {"type": "git", "source": repo.url, "output_path": "a"}]})
    (p / "kcompile.lock").write_text("version: 1\ndependencies:\n- type: git\n  source: x\n"
                                     "  pin: !!python/object:os.system {}\n- type: svn\n")
    run = kcompile("fetch", cwd=p, env=env)
    assert run.code == 2
    # Data only: the python tag is never constructed.
    assert run.err_lines[:2] == [
        "kcompile.lock:5: pin must be a mapping of non-empty strings",
        "kcompile.lock:6: unknown dependency type 'svn'"]
    assert not (p / "a").exists()


@needs_kapitan
def test_same_fetched_files_as_kapitan(tmp_path, env):
    """Git (tag, subdir, dotfiles), an http file and a tar.gz: the same files as kapitan's."""
    r = GitRepo(tmp_path / "up")
    r.commit({"lib/a.yml": "a: 1\n", "lib/.hidden": "h\n", "README.md": "r\n", ".gitignore": "x\n"})
    r.tag("v1")
    with http_server() as srv:
        deps = [
            {"type": "git", "source": r.url, "ref": "v1", "subdir": "lib", "output_path": "v/sub"},
            {"type": "git", "source": r.url, "output_path": "v/all"},
            {"type": "http", "source": srv.serve("/f.yaml", "f: 1\n"), "output_path": "v/f.yaml"},
            {"type": "http", "source": srv.serve("/t.tar.gz", tar_gz({"d/x.yml": "x: 1\n"}),
                                                 "application/gzip"),
             "unpack": True, "output_path": "v/t"},
        ]
        # Kapitan fails on a target that writes nothing: give it one file to compile.
        items = {"t": [{"input_type": "copy", "input_paths": ["v/f.yaml"], "output_path": "."}]}
        ours, theirs = _fetch_with_both(tmp_path, deps, items, env, "fetch")
    assert content(ours / "v") == content(theirs / "v")
    assert (ours / "v/sub/a.yml").exists()


@needs_kapitan
@pytest.mark.skipif(shutil.which("helm") is None, reason="no helm binary: Kapitan's helm fetch runs it")
def test_same_helm_chart_and_output_as_kapitan(tmp_path, env):
    """A chart repository built by helm itself: kcompile (no helm) unpacks what `helm pull` does."""
    charts = tmp_path / "charts"
    charts.mkdir()
    subprocess.run(["helm", "create", "mychart"], cwd=charts, check=True, capture_output=True)
    chart_yaml = charts / "mychart" / "Chart.yaml"
    for version in ("1.2.0", "1.3.0-rc1", "2.0.0"):  # ^1.0.0 must pick 1.2.0
        chart_yaml.write_text(re.sub(r"(?m)^version: .*$", f"version: {version}",
                                     chart_yaml.read_text()))
        subprocess.run(["helm", "package", "mychart"], cwd=charts, check=True,
                       capture_output=True)
    with http_server() as srv:
        subprocess.run(["helm", "repo", "index", ".", "--url", srv.base], cwd=charts,
                       check=True, capture_output=True)
        for f in charts.iterdir():
            if f.is_file():
                srv.serve(f"/{f.name}", f.read_bytes())
        deps = [{"type": "helm", "source": srv.base, "chart_name": "mychart",
                 "version": "^1.0.0", "output_path": "charts/mychart"}]
        items = {"t": [{"input_type": "helm", "input_paths": ["charts/mychart"],
                        "output_path": "manifests",
                        "helm_params": {"name": "rel", "namespace": "ns"}}]}
        ours, theirs = _fetch_with_both(tmp_path, deps, items, env, "--fetch")
    assert "version: 1.2.0" in (ours / "charts/mychart/Chart.yaml").read_text()
    assert content(ours / "charts") == content(theirs / "charts")
    assert content(ours / "compiled") == content(theirs / "compiled")


def _fetch_with_both(tmp_path: Path, deps: list[dict], items: dict, env: dict,
                     command: str) -> tuple[Path, Path]:
    """The same project fetched by ``kcompile COMMAND`` and by ``kapitan compile --fetch``."""
    ours = write_project(tmp_path / "ours", {"t": deps}, compile_items=items)
    theirs = write_project(tmp_path / "theirs", {"t": deps}, compile_items=items)
    run = kcompile(command, cwd=ours, env=env)
    assert run.code == 0, run.err
    proc = subprocess.run([str(KAPITAN), "compile", "--fetch"], cwd=theirs,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return ours, theirs
