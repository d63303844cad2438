"""The component run in progress, which every module of the Kapitan API reads.

The ``kadet`` input type wraps each component it runs in :func:`running`;
``kapitan.inputs.kadet.inventory()``, ``kapitan.cached.args`` and the rest
read that run here. Nothing outlives it: what a run memoises (the kadet
boxes, ``cached.args``) lives on its :class:`ComponentRun`, so no state
leaks from one target to the next.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from ..inputs.base import TargetEnv

# Name prefix of the modules components run as in sys.modules.
MODULE_PREFIX = "kcompile_kadet_"


@dataclass
class ComponentRun:
    """One component running for one target."""

    env: TargetEnv
    # Executes the package in a directory as a fresh module of the given name.
    exec_package: Callable[[str, str], types.ModuleType]
    memo: dict[str, Any] = field(default_factory=dict)

    def remember(self, key: str, make: Callable[[], Any]) -> Any:
        """``make()``, computed once per run under ``key``."""
        if key not in self.memo:
            self.memo[key] = make()
        return self.memo[key]


_RUN: ContextVar[ComponentRun | None] = ContextVar("kcompile_kadet_run", default=None)

# Kapitan's ``kapitan.topics.current_target``: the target being compiled.
current_target: ContextVar[str | None] = ContextVar("kapitan_current_target", default=None)


def active() -> ComponentRun | None:
    """The run in progress, or None outside one."""
    return _RUN.get()


def current() -> ComponentRun:
    """The run in progress; ``RuntimeError`` outside one."""
    run = _RUN.get()
    if run is None:
        raise RuntimeError("the Kapitan API (kapitan.inputs.kadet, kapitan.cached, ...) only "
                           "works while kcompile runs a component")
    return run


@contextlib.contextmanager
def running(run: ComponentRun) -> Iterator[None]:
    """Make ``run`` the component run the API reads, and its target ``current_target``."""
    token = _RUN.set(run)
    target = current_target.set(run.env.name)
    try:
        yield
    finally:
        current_target.reset(target)
        _RUN.reset(token)
