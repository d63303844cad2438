"""One exception family for user-facing problems.

Every user error is a :class:`Problem` (file, line, target, message). A run
collects problems and raises one :class:`UserError` holding all of them, so the
command line can print every problem at once, one line each, and exit 2.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

# Errors of the machine, not of kcompile: permissions, full or read-only disks,
# a file where a directory should be. They are the user's to fix (exit 2).
ENVIRONMENT_ERRNOS = frozenset({
    errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EEXIST,
    errno.ENOTDIR, errno.EISDIR, errno.EXDEV, errno.ENAMETOOLONG, errno.ELOOP, errno.EIO,
    errno.EMFILE, errno.ENFILE, errno.EFBIG, errno.EBUSY, errno.ETXTBSY,
})


def display_path(path: str) -> str:
    """``path`` relative to the current directory when it lies below it."""
    if not os.path.isabs(path):
        return os.path.normpath(path)
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def one_line(text: str) -> str:
    """``text`` with its lines joined by single spaces (blank lines and indents dropped)."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


@dataclass(frozen=True, order=True)
class Problem:
    """One located user error: ``path:line: target: message``."""

    path: str = ""
    line: int = 0
    target: str = ""
    message: str = ""

    def __post_init__(self) -> None:
        # Exception text may span lines (a library's own message): one problem, one line.
        if "\n" in self.message or "\r" in self.message:
            object.__setattr__(self, "message", one_line(self.message))

    def render(self) -> str:
        """Format as ``path:line: target: message``, leaving out unknown parts."""
        parts = []
        if self.path:
            path = display_path(self.path)
            parts.append(f"{path}:{self.line}" if self.line else path)
        if self.target:
            parts.append(self.target)
        parts.append(self.message)
        return ": ".join(parts)


class KapitanLiteError(Exception):
    """Base of every error kapitan-lite raises on purpose."""


class UserError(KapitanLiteError):
    """Bad input: one or more problems the user has to fix (exit code 2)."""

    def __init__(self, problems: list[Problem] | Problem):
        if isinstance(problems, Problem):
            problems = [problems]
        # Same input gives the same report: de-duplicate and keep a stable order.
        self.problems = sorted(set(problems), key=lambda p: (display_path(p.path), p.line,
                                                             p.target, p.message))
        super().__init__("\n".join(p.render() for p in self.problems))

    @classmethod
    def of(cls, message: str, path: str = "", line: int = 0, target: str = "") -> UserError:
        """Build an error with a single problem."""
        return cls(Problem(path=path, line=line, target=target, message=message))


def collect(errors: list[UserError]) -> UserError:
    """Merge several errors into one that reports all their problems."""
    problems: list[Problem] = []
    for err in errors:
        problems.extend(err.problems)
    return UserError(problems)


def os_problem(exc: OSError, target: str = "") -> Problem | None:
    """The located problem for an error of the machine (a full disk...); ``None`` for others."""
    if exc.errno not in ENVIRONMENT_ERRNOS:
        return None
    path = os.fsdecode(exc.filename) if exc.filename is not None else ""
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):
        what = "a file is where a directory should be"
    else:
        what = exc.strerror or os.strerror(exc.errno or 0)
    if exc.filename2 is not None:
        what += f" (to {display_path(os.fsdecode(exc.filename2))})"
    return Problem(path=path, target=target, message=what)
