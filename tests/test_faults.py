"""Kills and write errors at any moment: compiled/ is exactly the old tree or the new one.

The fleet's output is known in advance (``faults_support.expected``), so
each check compares content hashes of the whole tree with the two trees it
may be. ``KCOMPILE_TEST_COMMIT_PAUSE`` stretches each step of the commit
(see ``kapitan_lite/compile/exchange.py``), so that random moments land in
it as often as in the compile.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import kcompile
from faults_support import (
    expected,
    fleet,
    kill_all,
    processes_in,
    set_version,
    start,
    tree_hashes,
    wait_no_processes,
)

TARGETS, FILES = 24, 6
PAUSE = {"KCOMPILE_TEST_COMMIT_PAUSE": "0.1"}
SIGNALS = [signal.SIGKILL, signal.SIGTERM, signal.SIGINT]


def all_at(version: str) -> dict[str, str]:
    return expected(TARGETS, FILES, {f"t{i:03d}": version for i in range(TARGETS)})


@pytest.fixture
def compiled_fleet(tmp_path: Path) -> Path:
    root = fleet(tmp_path / "fleet", TARGETS, FILES)
    run = kcompile("-p", "2", cwd=root)
    assert run.code == 0, run.err
    assert tree_hashes(root / "compiled") == all_at("v0")
    return root


def _kill_at(root: Path, sig: signal.Signals, anchor: str, delay: float,
             env: dict) -> tuple[int, str]:
    """Run, and send ``sig`` ``delay`` s after ``anchor``: the start, staging, or the swap."""
    compiled_ino = os.stat(root / "compiled").st_ino
    proc = start(root, "-p", "2", env=env)
    try:
        if anchor == "staging":  # the compile has begun
            while proc.poll() is None and not (root / ".kcompile-staging/compiled").exists():
                time.sleep(0.005)
        elif anchor == "swap":  # compiled/ is the new tree's dir now
            while proc.poll() is None and os.stat(root / "compiled").st_ino == compiled_ino:
                time.sleep(0.005)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, sig)  # the main process only: its workers must follow it
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err


def test_kills_at_random_moments_leave_the_old_tree_or_the_new(compiled_fleet):
    root = compiled_fleet
    # How long a run takes, the paused commit included: the moments spread over it.
    set_version(root, "v1")
    t0 = time.monotonic()
    assert kcompile("-p", "2", cwd=root, env=PAUSE).code == 0
    span = time.monotonic() - t0
    rng = random.Random(1212)
    # Each signal at random moments after each anchor: anywhere in the run, in
    # the compile and the commit, and after the swap (a loaded machine
    # stretches the phases unevenly, so the anchors keep every phase covered).
    windows = {"start": span * 1.05, "staging": span * 0.8, "swap": 0.15}
    moments = [(SIGNALS[(i // 3) % 3], anchor, rng.uniform(0.0, windows[anchor]))
               for i, anchor in enumerate(["start", "staging", "swap"] * 11)]
    old, caught = "v1", {"old": 0, "new": 0}
    try:
        for i, (sig, anchor, delay) in enumerate(moments):
            new = f"v{i + 2}"
            set_version(root, new)
            code, err = _kill_at(root, sig, anchor, delay, PAUSE)
            where = f"kill {i} ({sig.name} {delay:.2f}s after {anchor}, exit {code}): {err!r}"
            assert wait_no_processes(root) == [], f"a worker outlived the run: {where}"
            tree = tree_hashes(root / "compiled")
            assert tree in (all_at(old), all_at(new)), f"compiled/ is neither tree: {where}"
            is_new = tree == all_at(new)
            caught["new" if is_new else "old"] += 1
            # What the run said is true.
            if "compiled/ left unchanged" in err:
                assert not is_new, where
            if code == 0 or "was already replaced" in err:
                assert is_new, where
            assert "Traceback" not in err and "internal error" not in err, where
            old = new if is_new else old
            if i % 3 == 2 or i == len(moments) - 1:
                # The next run takes over whatever the killed ones left and succeeds.
                # (In between, the next killed run starts from those leftovers.)
                run = kcompile("-p", "2", cwd=root)
                assert run.code == 0, f"after {where}: {run.err}"
                assert tree_hashes(root / "compiled") == all_at(new), where
                assert not (root / ".kcompile-staging/compiled").exists()
                old = new
    finally:
        kill_all(root)
    # The moments covered both outcomes: some kills came before the swap, some after.
    assert caught["old"] >= 5 and caught["new"] >= 5, caught


def test_journalled_swap_killed_between_its_renames_is_finished_by_any_next_command(
        compiled_fleet):
    root = compiled_fleet
    set_version(root, "v1")
    env = {**PAUSE, "KCOMPILE_TEST_NO_EXCHANGE": "1", "KCOMPILE_TEST_COMMIT_PAUSE": "3"}
    proc = start(root, "-p", "2", env=env)
    try:
        deadline = time.monotonic() + 60
        while not (root / ".kcompile-staging/old").exists():  # between the two renames
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        kill_all(root)
    assert not (root / "compiled").exists()  # the one moment this fallback can't cover
    assert (root / ".kcompile-staging/commit.journal").exists()
    run = kcompile("inventory", "-t", "t000", cwd=root)  # not a compile: any command
    assert run.code == 0, run.err
    assert run.err_lines == [
        f"warning: took over the lock of kcompile run {proc.pid}, which is gone; removed what "
        "it left in .kcompile-staging",
        "warning: finished the commit of compiled/ that a killed run left half done"]
    assert tree_hashes(root / "compiled") == all_at("v1")
    assert kcompile(cwd=root).code == 0
    assert tree_hashes(root / "compiled") == all_at("v1")


def test_journalled_swap_without_kills_commits(compiled_fleet):
    root = compiled_fleet
    set_version(root, "v1")
    run = kcompile(cwd=root, env={"KCOMPILE_TEST_NO_EXCHANGE": "1"})
    assert run.code == 0, run.err
    assert tree_hashes(root / "compiled") == all_at("v1")
    assert not (root / ".kcompile-staging/commit.journal").exists()


def _one_line_write_error(run, root: Path) -> None:
    assert run.code == 2, run.err
    lines = run.err_lines
    assert len(lines) == 2 and lines[1] == "kcompile: 1 problem; compiled/ left unchanged", lines
    assert "Traceback" not in run.err


def _chattr(flag: str, path: Path) -> None:
    subprocess.run(["chattr", flag, str(path)], check=True, capture_output=True)


def _can_chattr(tmp: Path) -> str:
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        return "needs root and chattr"
    probe = tmp / "probe"
    probe.write_text("x")
    ok = subprocess.run(["chattr", "+i", str(probe)], capture_output=True).returncode == 0
    subprocess.run(["chattr", "-i", str(probe)], capture_output=True)
    probe.unlink()
    return "" if ok else "this file system has no immutable flag"


def test_write_error_at_a_random_place_of_the_commit_leaves_the_old_tree(compiled_fleet,
                                                                         tmp_path):
    reason = _can_chattr(tmp_path)
    if reason:
        pytest.skip(reason)
    root = compiled_fleet
    set_version(root, "u")
    assert kcompile(cwd=root).code == 0  # a commit: it leaves a spare tree
    rng = random.Random(7)
    old = all_at("u")
    for i in range(4):
        # Some targets change; the spare dir one of them needs can't be written.
        set_version(root, f"w{i}", only=f"t0{i % 2}")
        victim = root / ".kcompile-staging/next" / f"t0{i % 2}{rng.randrange(10)}/manifests"
        _chattr("+i", victim)
        try:
            run = kcompile(cwd=root)
        finally:
            _chattr("-i", victim)
        _one_line_write_error(run, root)
        assert "Operation not permitted" in run.err_lines[0], run.err
        assert tree_hashes(root / "compiled") == old
        run = kcompile(cwd=root)
        assert run.code == 0, run.err
        tree = tree_hashes(root / "compiled")
        assert tree != old
        old = tree


def _mount(*args: str) -> bool:
    if shutil.which("mount") is None:
        return False
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


def test_full_disk_at_a_random_moment_leaves_the_old_tree(tmp_path):
    """ENOSPC on a small tmpfs, filled to a random level before each run."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or not _mount("-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)):
        pytest.skip("can't mount a tmpfs here (needs root and CAP_SYS_ADMIN)")
    try:
        root = fleet(mnt / "fleet", TARGETS, FILES)
        assert kcompile(cwd=root).code == 0
        free = shutil.disk_usage(mnt).free
        rng = random.Random(3)
        old, outcomes = all_at("v0"), set()
        for i in range(6):
            version = f"v{i + 1}"
            set_version(root, version)
            filler = mnt / "filler"
            with open(filler, "wb") as fp:
                fp.write(b"\0" * max(0, free - rng.randrange(0, 1_200_000)))
            run = kcompile("-p", "2", cwd=root)
            filler.unlink()
            tree = tree_hashes(root / "compiled")
            if run.code == 0:
                assert tree == all_at(version)
                old = tree
                outcomes.add("ok")
                continue
            assert run.code == 2, run.err
            assert run.err_lines[-1].endswith("; compiled/ left unchanged"), run.err
            assert all("No space left on device" in line for line in run.err_lines[:-1]), run.err
            assert tree == old
            outcomes.add("full")
            assert kcompile(cwd=root).code == 0
            old = tree_hashes(root / "compiled")
            assert old == all_at(version)
        assert "full" in outcomes
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_read_only_bind_mount_is_a_located_error(compiled_fleet, tmp_path):
    root = compiled_fleet
    compiled = root / "compiled"
    if os.geteuid() != 0 or not _mount("--bind", str(compiled), str(compiled)):
        pytest.skip("can't bind-mount here (needs root and CAP_SYS_ADMIN)")
    try:
        if not _mount("-o", "remount,ro,bind", str(compiled)):
            pytest.skip("can't remount read-only here")
        set_version(root, "v1")
        run = kcompile(cwd=root)
        _one_line_write_error(run, root)
        assert run.err_lines[0].startswith("compiled"), run.err
        assert ("Invalid cross-device link" in run.err_lines[0]
                or "Device or resource busy" in run.err_lines[0]), run.err
        assert tree_hashes(compiled) == all_at("v0")
    finally:
        subprocess.run(["umount", str(compiled)], capture_output=True)
    assert kcompile(cwd=root).code == 0
    assert tree_hashes(compiled) == all_at("v1")


def test_twenty_runs_at_once_one_compiles_the_others_are_refused(tmp_path):
    root = fleet(tmp_path / "fleet", 12, 4)
    (root / "lib").mkdir()
    (root / "lib/jinja2_filters.py").write_text(
        "import time\n\n\ndef slow(v):\n    time.sleep(0.2)\n    return v\n")
    (root / "templates/f0.yml").write_text("{{ inventory.parameters.target_name | slow }}\n")
    procs = [start(root, "-p", "2") for _ in range(20)]
    try:
        results = [(p.wait(timeout=120), p.communicate()[1]) for p in procs]
    finally:
        kill_all(root)
    ok = [err for code, err in results if code == 0]
    refused = [err for code, err in results if code == 2]
    assert len(ok) + len(refused) == 20, results
    assert ok, results
    for err in refused:
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith(".kcompile-staging: another kcompile run (pid "), err
    assert processes_in(root) == []
    # The result is what a clean compile writes.
    clean = tmp_path / "clean"
    shutil.copytree(root, clean, ignore=shutil.ignore_patterns("compiled", ".kcompile-*"))
    assert kcompile("--no-cache", cwd=clean).code == 0
    assert tree_hashes(root / "compiled") == tree_hashes(clean / "compiled")
