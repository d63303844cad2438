"""The writer: atomic per run, unchanged files untouched, stale output pruned."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import backdate, content, kcompile, simple_project, snapshot, write_tree

from kapitan_lite.compile import cachefile


def test_recompile_leaves_unchanged_files_untouched(project):
    assert kcompile(cwd=project).code == 0
    before = snapshot(project / "compiled")
    time.sleep(0.02)
    run = kcompile(cwd=project)
    assert run.code == 0
    assert "0 files written, 2 unchanged" in run.err
    assert snapshot(project / "compiled") == before  # mtimes included


def test_only_changed_file_is_rewritten(project):
    assert kcompile(cwd=project).code == 0
    before = snapshot(project / "compiled")
    (project / "inventory/targets/beta.yml").write_text(
        "classes: [common]\nparameters:\n  replicas: 5\n")
    run = kcompile(cwd=project)
    assert "1 files written, 1 unchanged" in run.err
    after = snapshot(project / "compiled")
    alpha, beta = "alpha/manifests/app.yml", "beta/manifests/app.yml"
    assert after[alpha] == before[alpha]
    assert after[beta][0] == b"name: beta\nreplicas: 5"


def test_stale_files_and_removed_targets_are_pruned(project):
    assert kcompile(cwd=project).code == 0
    (project / "compiled/alpha/manifests/old.yml").write_text("stale")
    (project / "compiled/alpha/leftover").mkdir()
    (project / "compiled/ghost").mkdir()
    (project / "compiled/ghost/x.yml").write_text("gone target")
    (project / "inventory/targets/beta.yml").unlink()
    assert kcompile(cwd=project).code == 0
    assert sorted(content(project / "compiled")) == ["alpha", "alpha/manifests",
                                                     "alpha/manifests/app.yml"]


def test_partial_compile_keeps_other_targets(project):
    assert kcompile(cwd=project).code == 0
    (project / "compiled/ghost").mkdir()
    (project / "compiled/beta/manifests/extra.yml").write_text("x")
    (project / "compiled/alpha/manifests/extra.yml").write_text("x")
    assert kcompile("-t", "alpha", cwd=project).code == 0
    tree = content(project / "compiled")
    assert "ghost" in tree and "beta/manifests/extra.yml" in tree  # not selected: untouched
    assert "alpha/manifests/extra.yml" not in tree  # selected: stale file gone


def test_mode_change_alone_is_applied(project):
    assert kcompile(cwd=project).code == 0
    os.chmod(project / "templates/app.yml", 0o755)
    assert kcompile(cwd=project).code == 0
    assert os.stat(project / "compiled/alpha/manifests/app.yml").st_mode & 0o777 == 0o755


def test_nested_dotted_targets_do_not_clobber_each_other(tmp_path):
    root = simple_project(tmp_path / "p", targets={"my": "1", "my.dotted": "2"})
    # A dotted file name: Kapitan's short name is "dotted", so use the full one.
    (root / "inventory/targets/my.dotted.yml").write_text(
        "classes: [common]\nparameters:\n  replicas: 2\n  target_name: ${_reclass_:name:full}\n")
    assert kcompile(cwd=root).code == 0
    assert kcompile("-t", "my", cwd=root).code == 0
    tree = content(root / "compiled")
    assert tree["my/dotted/manifests/app.yml"][0] == b"name: my.dotted\nreplicas: 2"
    assert tree["my/manifests/app.yml"][0] == b"name: my\nreplicas: 1"


def test_a_target_inside_another_comes_through_the_read_made_while_compiling(tmp_path):
    """With the cache on, the run reads what the commit keeps of compiled/ while the
    workers compile, leaving the compiled targets' dirs for after: a target whose dir
    holds another's, or lies in another's, still comes out exactly as a clean compile."""
    def set_target(root: Path, name: str, replicas: str) -> None:
        full = "  target_name: ${_reclass_:name:full}\n" if name == "my.dotted" else ""
        (root / f"inventory/targets/{name}.yml").write_text(
            f"classes: [common]\nparameters:\n  replicas: {replicas}\n{full}")

    def project(root: Path) -> Path:
        root = simple_project(root, targets={"my": "1", "my.dotted": "2", "other": "3"})
        set_target(root, "my.dotted", "2")  # compiled/my/dotted, inside compiled/my
        return root

    root = project(tmp_path / "p")
    backdate(root)
    assert kcompile(cwd=root).code == 0
    assert kcompile(cwd=root).code == 0  # every target stamped
    edits = [("my", "7"), ("my.dotted", "8"), ("my", "9")]
    for i, (name, replicas) in enumerate(edits):
        set_target(root, name, replicas)
        backdate(root)
        run = kcompile(cwd=root)
        assert run.code == 0, run.err
        assert "1 compiled, 2 unchanged (cache)" in run.err
        clean = project(tmp_path / f"clean{i}")
        for done in edits[:i + 1]:
            set_target(clean, *done)
        assert kcompile("--no-cache", cwd=clean).code == 0
        assert content(root / "compiled") == content(clean / "compiled")


SLOW_FILTER = """\
import time


def slow(value):
    time.sleep(60)
    return value
"""


def test_killed_compile_leaves_compiled_intact(tmp_path):
    root = simple_project(tmp_path / "p")
    assert kcompile(cwd=root).code == 0
    before = snapshot(root / "compiled")
    write_tree(root, {
        "lib/jinja2_filters.py": SLOW_FILTER,
        "templates/app.yml": "name: {{ inventory.parameters.target_name | slow }}\n",
        "inventory/targets/beta.yml": "classes: [common]\nparameters:\n  replicas: 9\n",
    })
    staging = root / ".kcompile-staging"
    for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
        proc = subprocess.Popen([sys.executable, "-m", "kapitan_lite", "-p", "2"], cwd=root,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        _wait_until_compiling(staging)
        os.killpg(proc.pid, sig) if sig == signal.SIGKILL else proc.send_signal(sig)
        proc.wait(timeout=30)
        if sig != signal.SIGKILL:
            os.killpg(proc.pid, signal.SIGKILL) if _alive(proc.pid) else None
        assert snapshot(root / "compiled") == before, f"compiled/ changed after {sig!r}"
    # The next run cleans up what the killed ones left and compiles normally.
    write_tree(root, {"templates/app.yml": "name: {{ inventory.parameters.target_name }}\n"})
    run = kcompile(cwd=root)
    assert run.code == 0, run.err
    assert sorted(os.listdir(staging)) == [".gitignore", ".lock", "next", "tree.bin"]
    assert content(root / "compiled")["beta/manifests/app.yml"][0] == b"name: beta"


def _wait_until_compiling(staging: Path) -> None:
    """Wait until a run holds the staging area and is busy compiling."""
    deadline = time.monotonic() + 60
    while not (staging / ".lock").exists():
        assert time.monotonic() < deadline, "compile never started"
        time.sleep(0.05)
    time.sleep(0.5)  # well inside the minute-long template now


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_concurrent_run_is_refused(tmp_path):
    root = simple_project(tmp_path / "p")
    write_tree(root, {
        "lib/jinja2_filters.py": SLOW_FILTER,
        "templates/app.yml": "name: {{ inventory.parameters.target_name | slow }}\n",
    })
    proc = subprocess.Popen([sys.executable, "-m", "kapitan_lite"], cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        _wait_until_compiling(root / ".kcompile-staging")
        run = kcompile(cwd=root)
        assert run.code == 2
        assert run.err_lines == [f".kcompile-staging: another kcompile run (pid {proc.pid}) is "
                                 "using this output path; try again when it has finished"]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_output_path_option(project, tmp_path):
    out = tmp_path / "elsewhere"
    assert kcompile("--output-path", str(out), cwd=project).code == 0
    assert (out / "compiled/alpha/manifests/app.yml").read_text() == "name: alpha\nreplicas: 1"
    assert not (project / "compiled").exists()
    assert not Path(out / ".kcompile-staging/compiled").exists()


def test_a_worker_that_dies_in_a_filter_is_a_located_error_and_compiled_is_untouched(tmp_path):
    root = simple_project(tmp_path / "p")
    assert kcompile(cwd=root).code == 0
    before = snapshot(root / "compiled")
    write_tree(root, {
        "lib/jinja2_filters.py": "import os\n\ndef die(value):\n    os._exit(7)\n",
        "templates/app.yml": "name: {{ inventory.parameters.target_name | die }}\n",
    })
    run = kcompile("-p", "2", cwd=root, timeout=60)
    assert run.code == 2, run.err
    assert run.err_lines == [
        f"templates/app.yml: {t}: the compile process exited with status 7 in this jinja2 input"
        for t in ("alpha", "beta")] + ["kcompile: 2 problems; compiled/ left unchanged"]
    assert "Traceback" not in run.err
    assert snapshot(root / "compiled") == before
    assert not (root / ".kcompile-staging/compiled").exists()


def test_nested_target_dirs_index():
    from kapitan_lite.compile.writer import nested_targets

    dirs = {"a", "a/b", "a/b/c", "x/y", "x/y/z", "ab"}
    assert nested_targets(dirs) == {"a": {"b", "b/c"}, "a/b": {"c"}, "x/y": {"z"}}


def test_commits_keep_unchanged_files_inode_and_mtime(tmp_path):
    root = simple_project(tmp_path / "p", targets={"alpha": "1", "beta": "2", "gamma": "3"})
    (root / "templates/other.yml").write_text("same: {{ inventory.parameters.target_name }}\n")
    (root / "inventory/classes/common.yml").write_text(
        (root / "inventory/classes/common.yml").read_text().replace(
            "input_paths: [templates/app.yml]", "input_paths: [templates/app.yml, templates/other.yml]"))
    assert kcompile(cwd=root).code == 0

    def stats():
        return {str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_mtime_ns)
                for p in (root / "compiled").rglob("*.yml")}

    for args in ((), ("-t", "beta")):  # the full fleet, then one target
        before = stats()
        (root / "inventory/targets/beta.yml").write_text(
            f"classes: [common]\nparameters:\n  replicas: {len(args) + 7}\n")
        run = kcompile(*args, cwd=root)
        assert "1 files written" in run.err, run.err
        after = stats()
        changed = {k for k in before if before[k] != after[k]}
        assert changed == {"compiled/beta/manifests/app.yml"}, changed


def _inodes(tree: Path) -> dict[str, int]:
    return {str(p.relative_to(tree)): p.stat().st_ino for p in tree.rglob("*") if p.is_file()}


def _record(root: Path) -> dict:
    return cachefile.read(str(root / ".kcompile-staging/tree.bin"))["dirs"]


# Each commit step waits this long: the dirs a commit makes are then older than the
# margin a record needs (a change in the same tick as the last one would not show).
_SLOW_COMMIT = {"KCOMPILE_TEST_COMMIT_PAUSE": "0.1"}


def test_a_first_compile_keeps_its_staged_tree_as_the_spare(tmp_path):
    """A first compile into an empty compiled/ keeps the tree its targets were staged in
    as the next commit's spare, holding the very files of compiled/ (linked in, not
    moved), and records its dirs as alike in both trees: the next commit takes a target
    it does not compile from the spare as it is, and its tree is exactly the new output."""
    root = simple_project(tmp_path / "p", targets={"alpha": "1", "beta": "2"})
    assert kcompile(cwd=root, env=_SLOW_COMMIT).code == 0
    spare = root / ".kcompile-staging/next"
    assert _inodes(spare) == _inodes(root / "compiled") != {}  # the very same files
    record = _record(root)
    assert {d for d, r in record.items() if r} == {"alpha", "alpha/manifests", "beta",
                                                   "beta/manifests"}
    beta = (spare / "beta/manifests").stat()
    (root / "inventory/targets/alpha.yml").write_text(
        "classes: [common]\nparameters:\n  replicas: 9\n")
    assert kcompile(cwd=root).code == 0
    now = (root / "compiled/beta/manifests").stat()
    assert (now.st_ino, now.st_ctime_ns) == (beta.st_ino, beta.st_ctime_ns)  # untouched
    fresh = simple_project(tmp_path / "clean", targets={"alpha": "1", "beta": "2"})
    (fresh / "inventory/targets/alpha.yml").write_text(
        "classes: [common]\nparameters:\n  replicas: 9\n")
    assert kcompile("--no-cache", cwd=fresh).code == 0
    assert content(root / "compiled") == content(fresh / "compiled")


def test_a_staged_spare_is_vouched_for_only_where_it_matches(tmp_path):
    """When a commit that keeps its staged tree as the spare links some files from the
    old tree (a target whose output did not change), the staged tree lacks them: the
    record leaves those dirs out, and the next commit reads and mends them."""
    root = simple_project(tmp_path / "p", targets={"alpha": "1", "beta": "2", "gamma": "3"})
    assert kcompile("-t", "alpha", cwd=root).code == 0
    assert kcompile(cwd=root, env=_SLOW_COMMIT).code == 0  # alpha unchanged: linked
    record = _record(root)
    assert record["alpha/manifests"] is None and record["beta/manifests"] is not None
    assert not (root / ".kcompile-staging/next/alpha/manifests/app.yml").exists()
    for name in ("beta", "alpha"):  # the second commit's spare is the first one's old tree
        (root / f"inventory/targets/{name}.yml").write_text(
            "classes: [common]\nparameters:\n  replicas: 9\n")
        assert kcompile(cwd=root).code == 0
    fresh = simple_project(tmp_path / "clean", targets={"alpha": "9", "beta": "9", "gamma": "3"})
    assert kcompile("--no-cache", cwd=fresh).code == 0
    assert content(root / "compiled") == content(fresh / "compiled")


def test_a_damaged_record_or_one_of_an_older_kcompile_costs_a_walk_only(tmp_path):
    """The record is a hint: cut short, it is refused (not an error), the next commit
    reads both trees, its result is the new output, and it writes the record anew.
    An older kcompile's record (tree.json) is removed."""
    root = simple_project(tmp_path / "p", targets={"alpha": "1", "beta": "2"})
    assert kcompile(cwd=root, env=_SLOW_COMMIT).code == 0
    staging = root / ".kcompile-staging"
    raw = (staging / "tree.bin").read_bytes()
    (staging / "tree.bin").write_bytes(raw[:-7])
    (staging / "tree.json").write_text('{"format": 2, "dirs": {}}')
    (root / "inventory/targets/alpha.yml").write_text(
        "classes: [common]\nparameters:\n  replicas: 9\n")
    assert kcompile(cwd=root, env=_SLOW_COMMIT).code == 0
    fresh = simple_project(tmp_path / "clean", targets={"alpha": "9", "beta": "2"})
    assert kcompile("--no-cache", cwd=fresh).code == 0
    assert content(root / "compiled") == content(fresh / "compiled")
    assert not (staging / "tree.json").exists()
    assert set(_record(root)) == {"alpha", "alpha/manifests", "beta", "beta/manifests"}
