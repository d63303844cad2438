"""The quick outputs check shared with a forked helper (``kapitan_lite/compile/precheck.py``).

A fleet of 80 targets, above the helper's threshold: the helper checks from
the last target back while the run does its own work, and the run takes the
targets from the first on. What the run finds must not depend on who checked.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import backdate, kcompile
from faults_support import (
    expected,
    fleet,
    kill_all,
    set_version,
    start,
    tree_hashes,
    wait_no_processes,
)

from kapitan_lite.compile import cachefile
from kapitan_lite.compile.cache import CACHE_NAME, STATE_FILE, Cache
from kapitan_lite.compile.precheck import Precheck

TARGETS, FILES = 80, 2
NAMES = [f"t{i:03d}" for i in range(TARGETS)]


def counts(err: str) -> tuple[int, int]:
    m = re.search(r"(\d+) compiled, (\d+) unchanged \(cache\)", err)
    assert m, err
    return int(m.group(1)), int(m.group(2))


@pytest.fixture
def stamped(tmp_path: Path) -> Path:
    """The fleet compiled, then recompiled once: every target's dirs are stamped."""
    root = fleet(tmp_path / "fleet", TARGETS, FILES)
    backdate(root)
    assert kcompile(cwd=root).code == 0
    run = kcompile(cwd=root)
    assert counts(run.err) == (0, TARGETS), run.err
    time.sleep(0.1)  # the stamps are older than the helper's slack
    return root


def loaded(root: Path) -> Cache:
    """The run's cache as a run loads it (its fingerprint read from the state file)."""
    state = cachefile.read(str(root / CACHE_NAME / STATE_FILE))
    store = Cache(str(root), state["fingerprint"])
    assert set(store.entries) == set(NAMES)
    return store


def helper_done(pid: int) -> None:
    """Wait until the helper has exited, leaving it for the run to reap."""
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)


def answers(check: Precheck, store: Cache, compiled: str) -> tuple[list[str], set[str]]:
    """The targets the run checked itself, and all those found intact."""
    asked: list[str] = []
    found = check.intact(store.state_stamp,
                         lambda n: asked.append(n) or store.quick_intact(n, compiled))
    return asked, found


def rewrite(path: Path) -> None:
    """Change a file in place, size kept: only its mtime tells."""
    text = path.read_text()
    path.write_text(text.replace("version:", "Version:", 1))


def test_hand_edits_are_seen_whichever_process_checks_them(stamped):
    root = stamped
    rewrite(root / "compiled/t000/manifests/f0.yml")  # where the run starts
    rewrite(root / "compiled/t079/manifests/f1.yml")  # where the helper starts
    (root / "compiled/t040/manifests/stray.yml").write_text("x")
    (root / "compiled/t041/manifests/f0.yml").unlink()
    run = kcompile(cwd=root)
    assert run.code == 0, run.err
    assert counts(run.err) == (4, TARGETS - 4)
    assert tree_hashes(root / "compiled") == expected(TARGETS, FILES, dict.fromkeys(NAMES, "v0"))


def test_the_helper_answers_for_every_target_it_had_time_for(stamped):
    root, compiled = stamped, str(stamped / "compiled")
    rewrite(root / "compiled/t003/manifests/f0.yml")
    rewrite(root / "compiled/t077/manifests/f1.yml")
    store = loaded(root)
    check = Precheck.start(NAMES, str(root), store.fingerprint, compiled, cpus=2)
    assert check is not None
    helper_done(check.pid)
    asked, found = answers(check, store, compiled)
    assert asked == []  # the helper had done them all
    assert found == set(NAMES) - {"t003", "t077"}


def test_the_run_checks_for_itself_what_a_dead_helper_did_not(stamped):
    root, compiled = stamped, str(stamped / "compiled")
    rewrite(root / "compiled/t050/manifests/f0.yml")
    store = loaded(root)
    check = Precheck.start(NAMES, str(root), store.fingerprint, compiled, cpus=2)
    assert check is not None
    os.kill(check.pid, signal.SIGKILL)
    asked, found = answers(check, store, compiled)
    assert asked == NAMES
    assert found == set(NAMES) - {"t050"}


def test_answers_about_a_replaced_compiled_tree_are_dropped(stamped):
    """Another run's commit swaps compiled/ for a tree the helper did not see."""
    root, compiled = stamped, str(stamped / "compiled")
    store = loaded(root)
    check = Precheck.start(NAMES, str(root), store.fingerprint, compiled, cpus=2)
    assert check is not None
    helper_done(check.pid)
    shutil.copytree(root / "compiled", root / "compiled.new")  # new inodes and times
    os.rename(root / "compiled", root / "compiled.old")
    os.rename(root / "compiled.new", root / "compiled")
    asked, found = answers(check, store, compiled)
    assert asked == NAMES
    assert found == set()  # none as stamped: the run looks closer at each


def test_answers_from_another_state_file_are_dropped(stamped):
    """The cache was saved again (another run) between the run's load and the helper's."""
    root, compiled = stamped, str(stamped / "compiled")
    store = loaded(root)
    state = root / CACHE_NAME / STATE_FILE
    cachefile.write(str(state), state.read_bytes())  # the same bytes, a new file
    check = Precheck.start(NAMES, str(root), store.fingerprint, compiled, cpus=2)
    assert check is not None
    helper_done(check.pid)
    asked, found = answers(check, store, compiled)
    assert asked == NAMES
    assert found == set(NAMES)


def test_no_helper_for_one_cpu_a_few_targets_or_no_compiled_tree(stamped):
    root, compiled = stamped, str(stamped / "compiled")
    assert Precheck.start(NAMES, str(root), "x", compiled, cpus=1) is None
    assert Precheck.start(NAMES[:10], str(root), "x", compiled, cpus=2) is None
    assert Precheck.start(NAMES, str(root), "x", str(root / "nothing"), cpus=2) is None


# Starts helpers until it stops one after it sent its stamp (past asking to die with its
# parent) and before it is done; that one then lives until killed.
HOLDER = """
import os, select, signal, sys, time
from kapitan_lite.compile import cachefile
from kapitan_lite.compile.precheck import Precheck
root = sys.argv[1]
fingerprint = cachefile.read(os.path.join(root, ".kcompile-cache", "state.bin"))["fingerprint"]
for _ in range(50):
    check = Precheck.start([f"t{i:03d}" for i in range(80)], root, fingerprint,
                           os.path.join(root, "compiled"), cpus=2)
    select.select([check.fileno()], [], [])
    os.kill(check.pid, signal.SIGSTOP)
    while True:
        with open(f"/proc/{check.pid}/stat", "rb") as fp:
            state = fp.read().rsplit(b")", 1)[1].split()[0]
        if state in (b"T", b"Z"):
            break
        time.sleep(0.001)
    if state == b"T":
        print(check.pid, flush=True)
        time.sleep(60)
    os.kill(check.pid, signal.SIGCONT)
    check.close()
"""


def test_the_helper_dies_with_a_run_killed_outright(stamped):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(stamped)],
                            stdout=subprocess.PIPE, text=True)
    try:
        helper = int(proc.stdout.readline())
        assert _alive(helper)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 5
        while _alive(helper):
            assert time.monotonic() < deadline, "the helper outlived the run"
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fp:
            return fp.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def test_runs_interrupted_while_the_helper_checks_leave_no_process_and_a_whole_tree(stamped):
    root = stamped
    rng = random.Random(8080)
    old = "v0"
    try:
        for i, sig in enumerate([signal.SIGINT, signal.SIGTERM, signal.SIGKILL] * 3):
            new = f"v{i + 1}"
            set_version(root, new, only="t07")  # ten targets to compile, seventy to check
            proc = start(root)
            # The helper lives in the first part of a run, once its imports are done
            # (a signal during the interpreter's own start is not the helper's to answer).
            time.sleep(rng.uniform(0.08, 0.4))
            if proc.poll() is None:
                os.kill(proc.pid, sig)
            _, err = proc.communicate(timeout=60)
            where = f"{sig.name} (exit {proc.returncode}): {err!r}"
            assert wait_no_processes(root) == [], f"a process outlived the run: {where}"
            versions = dict.fromkeys(NAMES, "v0")
            before = {**versions, **{n: old for n in NAMES if n.startswith("t07")}}
            after = {**versions, **{n: new for n in NAMES if n.startswith("t07")}}
            tree = tree_hashes(root / "compiled")
            assert tree in (expected(TARGETS, FILES, before), expected(TARGETS, FILES, after)), where
            assert "Traceback" not in err and "internal error" not in err, where
            old = new if tree == expected(TARGETS, FILES, after) else old
        run = kcompile(cwd=root)
        assert run.code == 0, run.err
        assert tree_hashes(root / "compiled") == expected(
            TARGETS, FILES, {**dict.fromkeys(NAMES, "v0"),
                             **{n: new for n in NAMES if n.startswith("t07")}})
    finally:
        kill_all(root)
