"""Compile a project somewhere else than its ``compiled/``: one side of a comparison.

:func:`compile_into` compiles in this process (the project root must be the
working directory, as for any compile). A :class:`SideProcess` holds one side
of a diff in a forked child that moves to that side's root: it resolves the
side's targets and reports a digest of each, then compiles the targets it is
asked for, reusing those resolutions. Two of them run at once, so one side's
inventory resolution (one core) overlaps the other's compile.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import signal
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import Any

from ..compile.run import compile_project
from ..errors import Problem, UserError
from ..inventory import Inventory
from ..project import Settings


def target_dirs(settings: Settings) -> dict[str, str]:
    """``{dir under compiled/: target name}`` of the inventory at ``settings.root``;
    empty when there is no inventory there. Only file names are read.
    """
    inventory_path = os.path.join(settings.root, settings.inventory_path)
    if not os.path.isdir(inventory_path):
        return {}
    inventory = Inventory(inventory_path, settings.backend, settings.compose_target_name)
    return {tf.output_dir: name for name, tf in inventory.targets.items()}


def compile_into(settings: Settings, names: list[str] | None, output_path: str) -> str:
    """Compile into ``<output_path>/compiled`` (never the project's own); return that dir.

    Raises :class:`UserError` with every problem, as a compile does.
    """
    compile_project(aside(settings, output_path), names or None)
    return os.path.join(output_path, "compiled")


def aside(settings: Settings, output_path: str) -> Settings:
    """Settings to compile into ``output_path``, without the incremental cache: a
    review compares what the sources produce now, and trusts no earlier run.
    """
    return replace(settings, output_path=output_path, cache=False)


def digest(target: dict[str, Any]) -> str:
    """A fingerprint of a resolved target: equal fingerprints, equal inventories."""
    text = json.dumps(target, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


class SideFailed(Exception):
    """A side could not be resolved or compiled: its problems, or an internal error."""

    def __init__(self, problems: list[Problem], error: str = ""):
        super().__init__(error or "; ".join(p.render() for p in problems[:1]))
        self.problems = problems
        self.error = error


def _own_group(pid: int) -> None:
    # Set by both parent and child, whichever runs first, so the parent can
    # always kill the child and its compile workers together.
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)


def _serve(settings: Settings, names: list[str] | None, conn: Connection) -> None:
    """The child: resolve, send digests, then compile what is asked until told to stop."""
    _own_group(0)
    try:
        _work(settings, names, conn)
    except (KeyboardInterrupt, OSError):
        pass  # stopped (Ctrl-C, or terminated while answering): the parent reports it
    finally:
        conn.close()


def _work(settings: Settings, names: list[str] | None, conn: Connection) -> None:
    try:
        os.chdir(settings.root)
        inventory = Inventory(settings.inventory_path, settings.backend,
                              settings.compose_target_name, settings.class_wildcards)
        selected = inventory.select(names, None)
        resolved, problems = inventory.resolve_partial(selected)
        if problems:
            raise UserError(problems)
        conn.send(("digests", {name: digest(t) for name, t in resolved.items()}))
        while True:
            request = conn.recv()
            if request is None:
                break
            report = compile_project(settings, request, inventory=inventory)
            conn.send(("compiled", report.targets_read))
    except UserError as exc:
        conn.send(("problems", exc.problems))
    except EOFError:
        pass  # the parent is gone
    except Exception as exc:  # reported by the parent as an internal error
        conn.send(("error", f"{type(exc).__name__}: {exc}"))


@dataclass
class SideProcess:
    """One side of a diff, resolved and compiled in its own forked process."""

    settings: Settings  # root: where the side's project is; output_path: where it compiles
    names: list[str] | None  # the targets to consider; None for all

    def __post_init__(self) -> None:
        self._busy = True  # resolving
        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(self.settings, self.names, child),
                                 name="kcompile-side")
        self._proc.start()
        _own_group(self._proc.pid or 0)
        child.close()

    @property
    def compiled(self) -> str:
        """Where this side's output goes."""
        return os.path.join(self.settings.output_path, "compiled")

    def _expect(self, kind: str) -> Any:
        try:
            got, payload = self._conn.recv()
        except EOFError:
            self._proc.join()
            raise SideFailed([], f"compile process died (exit code {self._proc.exitcode})") \
                from None
        if got in ("problems", "error"):
            self._busy = False  # it stops by itself after telling
        if got == "problems":
            raise SideFailed(payload)
        if got == "error":
            raise SideFailed([], payload)
        assert got == kind, (got, kind)
        return payload

    def digests(self) -> dict[str, str]:
        """``{target: digest of its resolved inventory}``; waits for the resolution."""
        digests = self._expect("digests")
        self._busy = False
        return digests

    def start_compile(self, names: list[str]) -> None:
        """Ask for ``names`` (not empty) to be compiled into :attr:`compiled`."""
        assert names
        self._conn.send(names)
        self._busy = True

    def wait_compile(self) -> dict[str, set[str]]:
        """Wait for the compile asked for; which compiled targets read which others
        through ``inventory_global`` (``"*"``: all of them).
        """
        targets_read = self._expect("compiled")
        self._busy = False
        return targets_read

    def close(self) -> None:
        """Stop the child and wait for it.

        A child still at work (the run failed or was interrupted) is killed
        with its compile workers: its process group holds them all, and
        everything they wrote is in the scratch dir, which goes next. A
        terminal's Ctrl-C does not reach them (they have their own group),
        so it is this process that stops them, every time.
        """
        if not self._busy:
            with contextlib.suppress(OSError):  # it has stopped already
                self._conn.send(None)
            self._proc.join(timeout=10)
        if self._proc.is_alive() and self._proc.pid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.join()
        self._conn.close()
