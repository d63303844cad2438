"""The inventory engine interface: what every engine renders and how it fails."""

from __future__ import annotations

from typing import Any, Protocol

from ..errors import Problem


class EngineError(Exception):
    """An engine failed to render a target; ``message`` is the engine's own text."""

    def __init__(self, message: str, target: str = ""):
        super().__init__(message)
        self.message = message
        self.target = target


class EngineProblems(EngineError):
    """An engine failure already located: one :class:`Problem` per cause."""

    def __init__(self, problems: list[Problem], target: str = ""):
        super().__init__("; ".join(p.message for p in problems), target)
        self.problems = problems


class Engine(Protocol):
    """Renders reclass targets: ``{classes, applications, parameters, exports}``."""

    name: str

    def render(self, target: str) -> dict[str, Any]:
        """Render one target, reading only the classes it needs."""
        ...

    def render_all(self, targets: list[str]) -> dict[str, dict[str, Any] | EngineError]:
        """Render several targets; a failed target maps to its error."""
        ...


def render_each(engine: Engine, targets: list[str]) -> dict[str, dict[str, Any] | EngineError]:
    """Render targets one by one with ``engine.render``, keeping each failure."""
    out: dict[str, dict[str, Any] | EngineError] = {}
    for name in targets:
        try:
            out[name] = engine.render(name)
        except EngineError as exc:
            out[name] = exc
    return out
