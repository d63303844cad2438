"""Run target compiles in a process pool.

Workers are forked after the inventory is resolved, so they inherit it (and
the refs store, and everything else in the job) instead of receiving a
pickled copy per task. Only a target name goes in and a small result comes
back. With one worker, or one target, everything runs in this process.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable

from .target import CompileJob, TargetResult, compile_target

# The job of the current run, set just before the pool forks. A module
# variable is the only way for a forked worker to see the parent's objects
# without pickling them; it is cleared when the run ends.
_JOB: CompileJob | None = None


def _work(name: str) -> TargetResult:
    assert _JOB is not None
    return compile_target(_JOB, name)


def _worker_init() -> None:
    # The parent handles Ctrl-C and tears the pool down (with SIGTERM):
    # workers ignore the one and die quietly of the other.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def run_targets(job: CompileJob, names: list[str], workers: int,
                on_result: Callable[[TargetResult], None] | None = None) -> list[TargetResult]:
    """Compile ``names`` with ``workers`` processes; results sorted by target name."""
    global _JOB
    results: list[TargetResult] = []
    if workers <= 1 or len(names) <= 1:
        for name in names:
            res = compile_target(job, name)
            results.append(res)
            if on_result:
                on_result(res)
    else:
        _JOB = job
        try:
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(workers, initializer=_worker_init) as pool:
                # Small chunks keep both cores busy when targets differ in cost.
                for res in pool.imap_unordered(_work, names, chunksize=1):
                    results.append(res)
                    if on_result:
                        on_result(res)
        finally:
            _JOB = None
    return sorted(results, key=lambda r: r.name)
