"""One lint finding (``path:line: rule-id: message``) and the order findings are reported in."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import display_path, one_line


@dataclass(frozen=True)
class Finding:
    """A problem lint found: where, which rule, what."""

    path: str
    line: int
    rule: str
    message: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", display_path(self.path) if self.path else "")
        if "\n" in self.message:
            object.__setattr__(self, "message", one_line(self.message))

    def render(self) -> str:
        """``path:line: rule-id: message``."""
        return f"{self.path}:{self.line}: {self.rule}: {self.message}"

    def sort_key(self) -> tuple[str, int, str, str]:
        """Stable report order: by file, line, rule, message."""
        return (self.path, self.line, self.rule, self.message)


def ordered(findings: list[Finding]) -> list[Finding]:
    """Findings de-duplicated, in report order."""
    return sorted(set(findings), key=Finding.sort_key)
