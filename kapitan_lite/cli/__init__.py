"""The ``kcompile`` command line: parse, call the library, print, exit."""

from __future__ import annotations

import atexit
import gc
import os
import signal
import sys
import threading
from typing import Any, NoReturn

_GC_EVERY = 20_000


def _interrupted(signum: int, _frame: Any) -> None:
    # Ctrl-C or SIGTERM while the modules are still loading: nothing has been
    # written yet, so leave quietly instead of printing an import traceback.
    sys.stderr.write("kcompile: interrupted; compiled/ left unchanged\n")
    raise SystemExit(130 if signum == signal.SIGINT else 143)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    # A class edit's run at 1000 targets makes some 70,000 objects the
    # collector tracks (the modules, the cache's records, the output check's
    # stats, the new tree's plan), nearly all kept to its end. At the default
    # of a pass per 700 new objects that is some 100 passes, 10-30 ms of the
    # run (14 pairs, twice: 0.536 s against 0.556, 0.521 against 0.542); at
    # one per 20,000 it is four. A run's cycles are still collected, and the
    # forked workers inherit the setting.
    gc.set_threshold(_GC_EVERY, *gc.get_threshold()[1:])
    previous = {sig: signal.signal(sig, _interrupted) for sig in (signal.SIGINT, signal.SIGTERM)}
    from .main import main as run

    for sig, handler in previous.items():
        signal.signal(sig, handler)
    try:
        run(argv)
    except SystemExit as exc:
        if threading.active_count() > 1 or sys.getprofile() or sys.gettrace():
            raise  # the interpreter's own exit joins the threads, and lets a profiler write
        _leave(exc.code)
    raise SystemExit(0)


def _leave(code: object) -> NoReturn:
    """End the process as ``sys.exit(code)`` would, without the interpreter's teardown.

    The teardown frees, one by one, the hundreds of thousands of objects a
    run holds (the cache, the inventory): some 20 ms at 1000 targets, a
    twentieth of a class edit's run, that change nothing. The exit handlers
    still run and the output is still flushed.
    """
    atexit._run_exitfuncs()  # what the interpreter's own exit runs first
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # as the interpreter does with sys.exit("message")
        sys.stderr.write(f"{code}\n")
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            status = status or 120  # the interpreter's status when its final flush fails
    os._exit(status)


def __getattr__(name: str) -> Any:
    if name == "cli":
        from .main import cli

        return cli
    raise AttributeError(name)


__all__ = ["cli", "main"]
