"""What a kadet component reads while it runs, recorded for the incremental cache.

Python's audit hooks (PEP 578) report every file a component opens and every
directory it lists, whichever library does it. While a component runs, a
:class:`ReadRecorder` turns those events into the target's dependencies:

- a file opened for reading becomes a file dependency, a listed directory a
  tree dependency, a ``glob`` pattern a glob dependency;
- opening a file for writing outside the target's output, starting a
  process or opening a network connection makes the target volatile (always
  compiled), since its output may then depend on more than files;
- installed code (the standard library, site-packages, kcompile itself),
  the import system's own directory listings and the output being built are
  left out.

The environment variables it reads (``os.environ``, ``os.getenv``) are
recorded too; one that sets a variable is always compiled. What neither
reports (``os.stat``/``os.path.exists``, the clock, randomness) is trusted
not to change the output, as Kapitan's own cache of kadet output does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from ..compile.deps import Deps

_VOLATILE_EVENTS = {
    "subprocess.Popen": "starts a process",
    "os.system": "starts a process",
    "os.exec": "starts a process",
    "os.posix_spawn": "starts a process",
    "os.spawn": "starts a process",
    "os.fork": "starts a process",
    "socket.connect": "opens a network connection",
    "socket.getaddrinfo": "opens a network connection",
    "urllib.Request": "opens a URL",
}
_WRITE_MODES = set("wax+")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class ReadRecorder:
    """Records one component run's reads into ``deps``."""

    def __init__(self, deps: Deps, output_root: str, library: tuple[str, ...]):
        self.deps = deps
        self.output_root = os.path.abspath(output_root) + os.sep
        self.library = library
        self.cwd = os.getcwd() + os.sep

    def _path(self, raw: Any) -> str | None:
        """A project path (relative to the root when inside it), or None to ignore it."""
        if isinstance(raw, int):
            return None  # an open file descriptor: its file was recorded when opened
        try:
            path = os.path.abspath(os.fsdecode(raw))
        except (TypeError, ValueError):
            return None
        if path.startswith(self.library) or (path + os.sep).startswith(self.output_root):
            return None
        if path.startswith(self.cwd):
            return path[len(self.cwd):]
        return path

    def event(self, name: str, args: tuple[Any, ...]) -> None:
        """One audit event raised while the component runs."""
        if name == "open":
            path = self._path(args[0])
            if path is None:
                return
            mode, flags = args[1], args[2] if len(args) > 2 else 0
            writes = (_WRITE_MODES & set(mode)) if isinstance(mode, str) \
                else bool((flags or 0) & _WRITE_FLAGS)
            if writes:
                self.deps.set_volatile(f"kadet component writes {path}")
            else:
                self.deps.file(path)
        elif name in ("os.listdir", "os.scandir"):
            raw = args[0] if args and args[0] is not None else "."
            path = self._path(raw)
            if path is not None and not _import_dir(os.path.abspath(raw)):
                self.deps.tree(path)
        elif name == "glob.glob":
            self.deps.glob(os.fsdecode(args[0]))
        elif name in _VOLATILE_EVENTS:
            self.deps.set_volatile(f"kadet component {_VOLATILE_EVENTS[name]}")


def _import_dir(path: str) -> bool:
    """Whether the import system lists ``path`` itself (a ``sys.path`` entry)."""
    return any(os.path.abspath(p or ".") == path for p in sys.path)


class _Hook:
    """The process's one audit hook (hooks cannot be removed): it forwards to the recorder."""

    def __init__(self) -> None:
        self.recorder: ReadRecorder | None = None
        sys.addaudithook(self)

    def __call__(self, name: str, args: tuple[Any, ...]) -> None:
        recorder = self.recorder
        if recorder is not None:
            self.recorder = None  # the recorder's own work raises no events into itself
            try:
                recorder.event(name, args)
            finally:
                self.recorder = recorder


_HOOK: list[_Hook] = []  # installed on first use, in the process that runs components


class _RecordingEnviron(MutableMapping[str, str]):
    """``os.environ`` while a component runs: the names it reads become dependencies."""

    def __init__(self, real: MutableMapping[str, str], deps: Deps):
        self._real = real
        self._deps = deps

    def __getitem__(self, name: str) -> str:
        self._deps.env(name)
        return self._real[name]

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            self._deps.env(name)
        return name in self._real

    def __iter__(self) -> Iterator[str]:
        self._deps.env("*")
        return iter(self._real)

    def __len__(self) -> int:
        self._deps.env("*")
        return len(self._real)

    def __setitem__(self, name: str, value: str) -> None:
        self._deps.set_volatile("kadet component sets environment variables")
        self._real[name] = value

    def __delitem__(self, name: str) -> None:
        self._deps.set_volatile("kadet component sets environment variables")
        del self._real[name]

    def copy(self) -> dict[str, str]:
        """A plain dict of the environment (as ``os.environ.copy()``)."""
        self._deps.env("*")
        return dict(self._real)


@contextmanager
def recording(recorder: ReadRecorder) -> Iterator[None]:
    """Send the audit events and environment reads of the block to ``recorder``."""
    if not _HOOK:
        _HOOK.append(_Hook())
    hook = _HOOK[0]
    previous, hook.recorder = hook.recorder, recorder
    real_environ = os.environ
    # Swapped, not cleared: os.getenv reads this same name, and the real one comes back.
    os.environ = _RecordingEnviron(real_environ, recorder.deps)  # type: ignore[assignment]  # noqa: B003
    try:
        yield
    finally:
        os.environ = real_environ  # noqa: B003
        hook.recorder = previous


def record_user_modules(deps: Deps, library: tuple[str, ...]) -> None:
    """Depend on the source of every loaded module that is not installed code.

    A project module imported by an earlier target stays loaded, so its file
    is not opened again: it is recorded from ``sys.modules`` instead.
    """
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path:
            continue
        path = os.path.abspath(path)
        if not path.startswith(library):
            deps.file(os.path.relpath(path) if path.startswith(os.getcwd() + os.sep) else path)
