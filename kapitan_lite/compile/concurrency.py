"""Run target compiles in forked worker processes.

Workers are forked after the inventory is resolved, so they inherit it (and
the refs store, and everything else in the job) instead of receiving a
pickled copy per task. Only a target name goes in and a small result comes
back. With one worker, or one target, everything runs in this process.

Each worker has a pipe of its own and shares no lock with the others or with
this process. ``multiprocessing.Pool`` does share one (its task queue's), and
its ``terminate()`` can wait for ever on that lock when the run is
interrupted at the wrong moment; here an interrupted run kills its workers
and is done.
"""

from __future__ import annotations

import multiprocessing
import signal
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection, wait

from .target import CompileJob, TargetResult, compile_target


class WorkerError(RuntimeError):
    """A worker failed outside the target compile's own error handling."""


def _worker(job: CompileJob, conn: Connection) -> None:
    # The parent handles Ctrl-C and SIGTERM and kills the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        while True:
            name = conn.recv()
            if name is None:
                return
            try:
                conn.send(("ok", compile_target(job, name)))
            except Exception as exc:  # reported by the parent as an internal error
                conn.send(("error", (f"{type(exc).__name__}: {exc} (target {name})",
                                     traceback.format_exc())))
    except (EOFError, BrokenPipeError):
        return  # the parent is gone


def run_targets(job: CompileJob, names: list[str], workers: int,
                on_result: Callable[[TargetResult], None] | None = None) -> list[TargetResult]:
    """Compile ``names`` with ``workers`` processes; results sorted by target name."""
    results: list[TargetResult] = []

    def done(res: TargetResult) -> None:
        results.append(res)
        if on_result:
            on_result(res)

    if workers <= 1 or len(names) <= 1:
        for name in names:
            done(compile_target(job, name))
        return results

    ctx = multiprocessing.get_context("fork")
    pending = list(reversed(names))  # popped from the end: in the given order
    procs: dict[Connection, multiprocessing.process.BaseProcess] = {}
    try:
        for _ in range(min(workers, len(names))):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(job, theirs), daemon=True,
                               name="kcompile-worker")
            proc.start()
            theirs.close()
            procs[mine] = proc
            mine.send(pending.pop())
        busy = set(procs)
        while busy:
            for conn in wait(list(busy)):
                try:
                    kind, payload = conn.recv()
                except EOFError:
                    proc = procs[conn]
                    proc.join()
                    raise WorkerError(f"a compile worker died (exit code {proc.exitcode})") \
                        from None
                if kind == "error":
                    message, trace = payload
                    err = WorkerError(message)
                    err.add_note(f"in the worker:\n{trace}")  # shown with --debug
                    raise err
                done(payload)
                if pending:
                    conn.send(pending.pop())
                else:
                    conn.send(None)
                    busy.discard(conn)
        for proc in procs.values():
            proc.join()
    finally:
        # Interrupted or failed: stop every worker now (a no-op for those done).
        for conn, proc in procs.items():
            if proc.is_alive():
                proc.kill()
            proc.join()
            conn.close()
    return sorted(results, key=lambda r: r.name)
