"""Which rules run: the defaults, ``.kapitan``'s ``lint:`` section, then the command line.

::

    lint:
      disable: [unread-parameter]      # rule ids
      enable: [plaintext-secret]       # rules that are off by default
      search-secrets: true             # same as --search-secrets
      warn-only: true                  # same as --warn-only
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import dotkapitan
from ..errors import Problem, UserError
from .rules import RULES


@dataclass(frozen=True)
class LintConfig:
    """The rules to run, and whether findings fail the run."""

    rules: frozenset[str]
    warn_only: bool


def _ids(value: Any, key: str, shown: str, line: int, problems: list[Problem]) -> set[str]:
    if value is None:
        return set()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(Problem(shown, line, "", f"lint.{key} must be a list of rule ids"))
        return set()
    for v in value:
        if v not in RULES:
            problems.append(Problem(shown, line, "", f"lint.{key}: unknown rule {v!r} "
                                                     f"(known: {', '.join(RULES)})"))
    return {v for v in value if v in RULES}


def _flag(block: dict, key: str, shown: str, line: int, problems: list[Problem]) -> bool:
    value = block.get(key, False)
    if not isinstance(value, bool):
        problems.append(Problem(shown, line, "", f"lint.{key} must be true or false"))
        return False
    return value


def load_config(root: str, search_secrets: bool | None, warn_only: bool | None) -> LintConfig:
    """The run's rules from ``root/.kapitan`` and the command-line flags (which win)."""
    block, lines, shown = dotkapitan.section(root, "lint")
    problems: list[Problem] = []
    disabled = _ids(block.get("disable"), "disable", shown, lines.get("disable", 0), problems)
    enabled = _ids(block.get("enable"), "enable", shown, lines.get("enable", 0), problems)
    secrets = _flag(block, "search-secrets", shown, lines.get("search-secrets", 0), problems)
    warn = _flag(block, "warn-only", shown, lines.get("warn-only", 0), problems)
    if problems:
        raise UserError(problems)
    rules = {r.id for r in RULES.values() if r.default} | enabled
    if secrets:
        rules.add("plaintext-secret")
    rules -= disabled
    if search_secrets:
        rules.add("plaintext-secret")
    rules.add("inventory-error")  # a target that does not resolve is always said
    return LintConfig(frozenset(rules), bool(warn_only) if warn_only is not None else warn)
