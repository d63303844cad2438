"""The run's findings as text (one line each), JSON or SARIF."""

from __future__ import annotations

import json
from collections import Counter

from ..sarif import Result, Rule, sarif_log
from .findings import Finding
from .rules import RULES


def as_text(findings: list[Finding]) -> str:
    """``path:line: rule-id: message`` per finding."""
    return "".join(f.render() + "\n" for f in findings)


def summary(findings: list[Finding]) -> str:
    """``kcompile lint: N findings (rule: n, ...)``."""
    if not findings:
        return "kcompile lint: no findings"
    counts = Counter(f.rule for f in findings)
    per = ", ".join(f"{r}: {n}" for r, n in sorted(counts.items()))
    return f"kcompile lint: {len(findings)} finding{'s' if len(findings) != 1 else ''} ({per})"


def as_json(findings: list[Finding], notes: list[str]) -> str:
    """``{"findings": [{path, line, rule, message, level}], "notes": [...]}``."""
    data = {"findings": [{"path": f.path, "line": f.line, "rule": f.rule, "message": f.message,
                          "level": RULES[f.rule].level} for f in findings],
            "notes": notes}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def as_sarif(findings: list[Finding], notes: list[str]) -> str:
    """A SARIF 2.1.0 log (GitHub code scanning)."""
    rules = [Rule(r.id, r.summary, r.level) for r in RULES.values()]
    results = [Result(f.rule, f.message, f.path, f.line, RULES[f.rule].level) for f in findings]
    return sarif_log("kcompile lint", rules, results, notes=notes)
