"""A small, generic SARIF 2.1.0 writer: rules, results (rule id, message, path, line, level), notes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = ("none", "note", "warning", "error")


@dataclass(frozen=True)
class SarifRule:
    """A rule as SARIF describes it."""

    id: str
    text: str
    level: str = "warning"


@dataclass(frozen=True)
class SarifResult:
    """One result: a rule broken at a place."""

    rule_id: str
    message: str
    path: str
    line: int
    level: str = "warning"


def sarif_log(tool: str, version: str, uri: str, rules: list[SarifRule],
              results: list[SarifResult], notes: list[str] = ()) -> dict[str, Any]:
    """A SARIF 2.1.0 log of one run, paths relative to the checkout (``%SRCROOT%``)."""
    index = {r.id: i for i, r in enumerate(rules)}
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": tool, "version": version, "informationUri": uri,
            "rules": [{"id": r.id, "name": r.id, "shortDescription": {"text": r.text},
                       "defaultConfiguration": {"level": r.level}} for r in rules],
        }},
        "originalUriBaseIds": {"%SRCROOT%": {"uri": "./"}},
        "results": [{
            "ruleId": res.rule_id,
            **({"ruleIndex": index[res.rule_id]} if res.rule_id in index else {}),
            "level": res.level if res.level in LEVELS else "warning",
            "message": {"text": res.message},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": res.path.replace("\\", "/"), "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": max(res.line, 1)},
            }}],
        } for res in results],
        "invocations": [{
            "executionSuccessful": True,
            "toolExecutionNotifications": [{"message": {"text": n}, "level": "note"}
                                           for n in notes],
        }],
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
