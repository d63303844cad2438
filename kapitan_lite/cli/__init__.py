"""The ``kcompile`` command line: parse, call the library, print, exit."""

from __future__ import annotations

import signal
import sys
from typing import Any


def _interrupted(signum: int, _frame: Any) -> None:
    # Ctrl-C or SIGTERM while the modules are still loading: nothing has been
    # written yet, so leave quietly instead of printing an import traceback.
    sys.stderr.write("kcompile: interrupted; compiled/ left unchanged\n")
    raise SystemExit(130 if signum == signal.SIGINT else 143)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    previous = {sig: signal.signal(sig, _interrupted) for sig in (signal.SIGINT, signal.SIGTERM)}
    from .main import main as run

    for sig, handler in previous.items():
        signal.signal(sig, handler)
    run(argv)


def __getattr__(name: str) -> Any:
    if name == "cli":
        from .main import cli

        return cli
    raise AttributeError(name)


__all__ = ["cli", "main"]
