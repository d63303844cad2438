"""A component can't end the run or fake success; a killed run leaves no worker and no lock.

Each case runs on the three paths a target can take: ``-t prod`` (one
target), ``-p 1`` (one worker, every target) and the full fleet (``-p 2``).
Only ``prod`` misbehaves, so the full paths also show that the other
targets still compile and only one problem is reported.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from conftest import COMMON_CLASS, backdate, kcompile, snapshot, write_tree
from faults_support import processes_in, start, wait_no_processes

KADET = """\
import os
import signal
import sys
import time

from kapitan.inputs import kadet


def main():
    how = os.environ.get("KDIE", "")
    if kadet.inventory()["parameters"]["target_name"] == "prod":
        if how == "exit0":
            sys.exit(0)
        if how == "exit3":
            sys.exit(3)
        if how == "_exit1":
            os._exit(1)
        if how == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        if how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
    if how == "slow":
        time.sleep(60)
    return {"a": {"x": 1}}
"""
FILTERS = """\
import os
import signal
import sys


def maybe_die(target):
    how = os.environ.get("KDIE", "")
    if target == "prod":
        if how == "jsonnet-exit0":
            sys.exit(0)
        if how == "jsonnet-segv":
            os.kill(os.getpid(), signal.SIGSEGV)
    return target
"""
PATHS = {"-t": ["-t", "prod"], "-p 1": ["-p", "1"], "full": ["-p", "2"]}


@pytest.fixture(scope="module")
def components(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("components")
    files = {
        "inventory/classes/common.yml": COMMON_CLASS + """\
    compile:
      - input_type: kadet
        input_paths: [components/c]
        output_path: k
      - input_type: jsonnet
        input_paths: [components/main.jsonnet]
        output_path: j
""",
        "components/c/__init__.py": KADET,
        "components/main.jsonnet": """\
            local kap = import 'lib/kapitan.libjsonnet';
            {
              b: kap.jinja2_template('templates/t.j2', { target: std.extVar('target') }),
            }
            """,
        "templates/t.j2": "{{ target | maybe_die }}\n",
        "lib/jinja2_filters.py": FILTERS,
    }
    for t in ("prod", "dev", "stage"):
        files[f"inventory/targets/{t}.yml"] = "classes: [common]\nparameters: {}\n"
    write_tree(root, files)
    run = kcompile(cwd=root)
    assert run.code == 0, run.err
    return root


CASES = {
    "exit0": "components/c/__init__.py:13: prod: component exited with status 0",
    "exit3": "components/c/__init__.py:15: prod: component exited with status 3",
    "_exit1": "components/c/__init__.py: prod: component exited with status 1",
    "segv": "components/c/__init__.py: prod: component was killed by signal SIGSEGV",
    "kill": "components/c/__init__.py: prod: component was killed by signal SIGKILL",
    "jsonnet-exit0": "components/main.jsonnet:3: prod: jsonnet runtime error: component exited "
                     "with status 0 (a jinja2 filter, rendering ./templates/t.j2)",
    "jsonnet-segv": "components/main.jsonnet: prod: component was killed by signal SIGSEGV",
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_component_that_exits_or_crashes_is_a_located_error(components, case):
    before = snapshot(components / "compiled")
    # A Jsonnet native runs in the same worker as a kadet component: one path each suffices.
    paths = PATHS if not case.startswith("jsonnet") else \
        {k: v for k, v in PATHS.items() if k == ("-t" if case.endswith("exit0") else "full")}
    for path, args in paths.items():
        run = kcompile(*args, cwd=components, env={"KDIE": case}, timeout=60)
        assert run.code == 2, (path, run.err)
        assert run.err_lines == [CASES[case], "kcompile: 1 problem; compiled/ left unchanged"], \
            (path, run.err)
        assert snapshot(components / "compiled") == before, path
        assert not (components / ".kcompile-staging/compiled").exists(), path
        assert processes_in(components) == []


QUEUED_FILTERS = """\
import os


def maybe_die(target):
    if target in os.environ.get("KDIE", "").split(","):
        os._exit(1)
    return target
"""


def test_targets_queued_behind_a_dead_worker_are_compiled_by_a_fresh_one(tmp_path):
    # With targets whose inputs changed and others the cache may vouch for, each
    # worker is given several targets before the run checks the others' outputs.
    # One worker (-p 1) holds a1, a2 and a3 when a1 kills it: a2 and a3 must still
    # be compiled, each by a fresh worker, and a2's death reported as well.
    files = {
        "inventory/classes/common.yml": COMMON_CLASS + """\
    compile:
      - input_type: jinja2
        input_paths: [templates/t.j2]
        output_path: .
""",
        "templates/t.j2": "{{ inventory.parameters.target_name | maybe_die }}\n",
        "lib/jinja2_filters.py": QUEUED_FILTERS,
    }
    names = ["a1", "a2", "a3", "b1", "b2", "b3", "b4"]
    for t in names:
        files[f"inventory/targets/{t}.yml"] = "classes: [common]\nparameters: {}\n"
    root = write_tree(tmp_path, files)
    backdate(root)
    assert kcompile(cwd=root).code == 0
    for t in ("a1", "a2", "a3"):
        (root / f"inventory/targets/{t}.yml").write_text("classes: [common]\nparameters: {x: 1}\n")
    backdate(root)
    run = kcompile("-p", "1", cwd=root, env={"KDIE": "a1,a2"}, timeout=60)
    assert run.code == 2, run.err
    assert run.err_lines == [
        "templates/t.j2: a1: the compile process exited with status 1 in this jinja2 input",
        "templates/t.j2: a2: the compile process exited with status 1 in this jinja2 input",
        "kcompile: 2 problems; compiled/ left unchanged"], run.err
    assert processes_in(root) == []
    run = kcompile("-p", "1", cwd=root, timeout=60)
    assert run.code == 0, run.err
    assert "3 compiled, 4 unchanged (cache)" in run.err, run.err


def test_kill_9_of_the_main_process_leaves_no_worker_and_no_held_lock(components):
    # Ready once the run and its two workers are up.
    proc = _kill_9_when(components, lambda: len(processes_in(components)) >= 3,
                        "-p", "2", env={"KDIE": "slow"})
    # --no-cache: kadet output is cached, and a run with nothing to compile writes
    # nothing, so it would not need the lock at all.
    run = kcompile("--no-cache", cwd=components)
    assert run.code == 0, run.err
    assert run.err_lines[0] == (f"warning: took over the lock of kcompile run {proc.pid}, which "
                                "is gone; removed what it left in .kcompile-staging")


def test_a_stale_lock_is_taken_over_with_one_notice(tmp_path):
    root = write_tree(tmp_path / "p", {
        "inventory/classes/common.yml": "parameters: {}\n",
        "inventory/targets/t.yml": "classes: [common]\nparameters: {}\n",
    })
    lock = root / ".kcompile-staging/.lock"
    lock.parent.mkdir()
    lock.write_text("4194300 12345\n")  # a pid no process has
    run = kcompile(cwd=root)
    assert run.code == 0, run.err
    assert run.err_lines[0] == ("warning: took over the lock of kcompile run 4194300, which is "
                                "gone; removed what it left in .kcompile-staging")
    assert lock.read_text() == ""  # released cleanly: the next run has nothing to take over
    run = kcompile(cwd=root)
    assert "took over" not in run.err



def test_kill_9_of_the_run_also_ends_the_helm_a_worker_runs(tmp_path):
    root = write_tree(tmp_path / "p", {
        "inventory/classes/common.yml": COMMON_CLASS,
        "inventory/targets/t.yml": (
            "classes: [common]\nparameters:\n  kapitan:\n    compile:\n"
            "      - input_type: helm\n        input_paths: [charts/c]\n"
            "        output_path: out\n        helm_path: ./slowhelm\n"),
        "charts/c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
        # A stand-in helm that hangs: what a stuck helm does when the run is killed.
        "slowhelm": "#!/bin/sh\necho started > started\nexec sleep 120\n",
    })
    (root / "slowhelm").chmod(0o755)
    _kill_9_when(root, (root / "started").exists, expect_processes=3)  # run, worker, helm


@pytest.mark.parametrize("input_type", ["kustomize", "cuelang"])
def test_kill_9_of_the_run_also_ends_the_kustomize_or_cue_a_worker_runs(tmp_path, input_type):
    root = tmp_path / "p"
    # A stand-in that hangs, in the project dir (cue runs in a copy of its module).
    hang = f"#!/bin/sh\ncd {root} && echo started > started && exec sleep 120\n"
    write_tree(root, {
        "inventory/classes/common.yml": COMMON_CLASS,
        "inventory/targets/t.yml": (
            "classes: [common]\nparameters:\n  kapitan:\n    compile:\n"
            f"      - input_type: {input_type}\n        input_paths: [src]\n"
            "        output_path: out\n"),
        "src/kustomization.yaml": "resources: []\n",
        "bin/kustomize": hang,
        "bin/cue": hang,
    })
    for tool in ("kustomize", "cue"):
        (root / "bin" / tool).chmod(0o755)
    _kill_9_when(root, (root / "started").exists, expect_processes=3,  # run, worker, tool
                 env={"PATH": f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}"})


def _kill_9_when(root: Path, ready, *args: str, env: dict | None = None,
                 expect_processes: int | None = None):
    """Start kcompile in ``root``, SIGKILL it once ``ready()``; assert nothing outlives it."""
    proc = start(root, *args, env=env)
    try:
        deadline = time.monotonic() + 60
        while not ready():
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
            time.sleep(0.02)
        if expect_processes is not None:
            assert len(processes_in(root)) == expect_processes
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert wait_no_processes(root) == []
    finally:
        for pid in processes_in(root):
            os.kill(pid, signal.SIGKILL)
    return proc
