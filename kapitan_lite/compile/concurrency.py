"""Run target compiles in forked worker processes, never in this one.

Workers are forked after the inventory is resolved, so they inherit it (and
the refs store, and everything else in the job) instead of receiving a
pickled copy per task. Only a target name goes in and a small result comes
back. Targets always compile in a worker, even one target with ``-p 1``:
components are arbitrary code, and ``os._exit``, a signal or a crash in
one must end only the worker, never the run.

Before each input it compiles, a worker notes in a page of memory it shares
with this process which target and which input it is running. When a worker
dies, that note turns its death into a located problem
(``components/x/__init__.py: prod: component exited with status 0``), a new
worker takes the remaining targets, and the run reports every problem at
once.

Workers never outlive the run: each asks the kernel to kill it when this
process dies (``PR_SET_PDEATHSIG``, SIGKILL included), checks that it was
not orphaned before that took effect, and closes its copies of the other
workers' pipes and of the run's lock, so nothing a dead run leaves holds
either.
"""

from __future__ import annotations

import json
import mmap
import os
import signal
import struct
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..errors import Problem
from ..lifetime import fork_child, kill_child, preload
from .channel import Channel, pair, wait
from .target import CompileJob, TargetResult, compile_target

_SLOT_SIZE = 4096
_LEN = struct.Struct("<I")
_COMPONENT_TYPES = {"kadet", "jsonnet"}
# Targets given to each worker before the run turns to checking outputs (``more``).
_AHEAD = 16


class WorkerError(RuntimeError):
    """A worker failed outside the target compile's own error handling."""


class _Slot:
    """What a worker is running, in memory shared with the parent (written before it runs)."""

    def __init__(self) -> None:
        self.mem = mmap.mmap(-1, _SLOT_SIZE)

    def write(self, target: str, input_type: str = "", path: str = "") -> None:
        data = json.dumps([target, input_type, path]).encode()[:_SLOT_SIZE - _LEN.size]
        self.mem[_LEN.size:_LEN.size + len(data)] = data
        self.mem[:_LEN.size] = _LEN.pack(len(data))  # last: a torn note is never read

    def read(self) -> tuple[str, str, str] | None:
        (size,) = _LEN.unpack(self.mem[:_LEN.size])
        if not size:
            return None
        try:
            target, input_type, path = json.loads(self.mem[_LEN.size:_LEN.size + size])
        except ValueError:
            return None
        return target, input_type, path

    def clear(self) -> None:
        self.mem[:_LEN.size] = _LEN.pack(0)


@dataclass
class _Worker:
    pid: int
    conn: Channel
    slot: _Slot
    queue: list[str] = field(default_factory=list)  # given, not yet answered, in order


def _serve(job: CompileJob, conn: Channel, slot: _Slot) -> None:
    job.on_item = slot.write
    while True:
        try:
            name = conn.recv()
        except EOFError:
            return  # the parent is gone
        if name is None:
            return
        slot.write(name)
        try:
            reply = ("ok", compile_target(job, name))
        except Exception as exc:  # reported by the parent as an internal error
            reply = ("error", (f"{type(exc).__name__}: {exc} (target {name})",
                               traceback.format_exc()))
        slot.clear()
        conn.send(reply)


def _spawn(job: CompileJob, others: Sequence[_Worker], close_fds: Sequence[int]) -> _Worker:
    parent_end, child_end = pair()
    slot = _Slot()
    pid = fork_child()
    if pid == 0:  # the worker
        code = 0
        try:
            for w in others:
                w.conn.close()
            parent_end.close()
            for fd in close_fds:
                os.close(fd)
            _serve(job, child_end, slot)
        except SystemExit as exc:  # a component's sys.exit, outside the kadet input
            code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        except BaseException:  # a component raised KeyboardInterrupt...: the parent says so
            code = 1
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    child_end.close()
    return _Worker(pid, parent_end, slot)


def _death(worker: _Worker) -> TargetResult:
    """The problem a worker's death makes, from the note it left."""
    _, status = os.waitpid(worker.pid, 0)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        how = f"was killed by signal {signal.Signals(sig).name}"
    else:
        how = f"exited with status {os.waitstatus_to_exitcode(status)}"
    note = worker.slot.read()
    if note is None or not worker.queue:
        raise WorkerError(f"a compile worker {how}")
    target, input_type, path = note
    if not input_type:  # between inputs: the target's own work
        return TargetResult(target, problems=[Problem("", 0, target, f"its compile process {how}")])
    if input_type == "kadet" and os.path.isdir(path):
        path = os.path.join(path, "__init__.py")
    message = (f"component {how}" if input_type in _COMPONENT_TYPES
               else f"the compile process {how} in this {input_type} input")
    return TargetResult(target, problems=[Problem(path, 0, target, message)])


def run_targets(job: CompileJob, names: list[str], workers: int,
                on_result: Callable[[TargetResult], None] | None = None,
                close_fds: Sequence[int] = (),
                more: Callable[[], list[str]] | None = None) -> list[TargetResult]:
    """Compile ``names`` in up to ``workers`` forked processes; results sorted by target name.

    ``close_fds``: descriptors of this process that workers must not keep
    (the run's lock). ``more``: called once the workers have their first
    targets, while they compile; the targets it returns are compiled too
    (the cache checks the outputs of the others meanwhile). This process
    answers no worker until it returns, so each worker is given several
    targets first (up to ``_AHEAD``), rather than one and a wait.
    """
    results: list[TargetResult] = []

    def done(res: TargetResult) -> None:
        results.append(res)
        if on_result:
            on_result(res)

    pending = list(reversed(names))  # popped from the end: in the given order
    pool: dict[Channel, _Worker] = {}

    def give(w: _Worker, count: int = 1) -> None:
        """Send ``w`` up to ``count`` more targets; with none left for it, tell it to stop."""
        for _ in range(count):
            if not pending:
                break
            w.queue.append(pending.pop())
            w.conn.send(w.queue[-1])
        if not w.queue:
            w.conn.send(None)

    def start(count: int = 1) -> _Worker:
        w = _spawn(job, list(pool.values()), close_fds)
        pool[w.conn] = w
        give(w, count)
        return w

    preload()  # once here, rather than in every worker
    try:
        first = max(1, min(workers, len(names)))
        ahead = 1 if more is None else min(_AHEAD, -(-len(names) // first))
        for _ in range(first):
            start(ahead)
        if more is not None:
            extra = more()
            pending[:0] = reversed(extra)  # after the given ones: they pop from the end
            while len(pool) < min(workers, len(names) + len(extra)):
                start()
        busy = {c for c, w in pool.items() if w.queue}
        while busy:
            for conn in wait(list(busy)):
                w = pool[conn]
                try:
                    kind, payload = conn.recv()
                except EOFError:
                    busy.discard(conn)
                    del pool[conn]
                    conn.close()
                    done(_death(w))
                    pending.extend(reversed(w.queue[1:]))  # given, never started: next
                    if pending:  # a fresh worker takes the rest
                        busy.add(start().conn)
                    continue
                if kind == "error":
                    message, trace = payload
                    err = WorkerError(message)
                    err.add_note(f"in the worker:\n{trace}")  # shown with --debug
                    raise err
                w.queue.pop(0)
                done(payload)
                if not w.queue:
                    give(w)
                    if not w.queue:
                        busy.discard(conn)
        for w in pool.values():
            os.waitpid(w.pid, 0)
            w.pid = 0
    finally:
        # Interrupted or failed: stop every worker now (a no-op for those done).
        for w in pool.values():
            if w.pid:
                kill_child(w.pid)
            w.conn.close()
    return sorted(results, key=lambda r: r.name)
