"""SARIF 2.1.0 logs (for GitHub code scanning) from located findings, for any kcompile check."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from . import __version__

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {"error": "error", "warning": "warning", "note": "note"}


@dataclass(frozen=True)
class Rule:
    """A rule a tool reports under: its id and a one-line description."""

    id: str
    description: str


@dataclass(frozen=True)
class Result:
    """One finding: the rule, what is wrong, the file (relative to the repo) and line, its level."""

    rule_id: str
    message: str
    path: str
    line: int = 0
    level: str = "error"


def sarif_log(tool: str, rules: Iterable[Rule], results: Iterable[Result],
              information_uri: str = "") -> str:
    """A SARIF 2.1.0 log of one run of ``tool`` as JSON text (sorted keys, stable order)."""
    rules = sorted(set(rules), key=lambda r: r.id)
    index = {r.id: i for i, r in enumerate(rules)}
    driver: dict = {
        "name": tool,
        "version": __version__,
        "rules": [{"id": r.id, "shortDescription": {"text": r.description}} for r in rules],
    }
    if information_uri:
        driver["informationUri"] = information_uri
    out = []
    for r in results:
        location: dict = {"artifactLocation": {"uri": r.path.replace("\\", "/")}}
        if r.line > 0:
            location["region"] = {"startLine": r.line}
        item: dict = {"ruleId": r.rule_id, "level": _LEVELS.get(r.level, "warning"),
                      "message": {"text": r.message},
                      "locations": [{"physicalLocation": location}]}
        if r.rule_id in index:
            item["ruleIndex"] = index[r.rule_id]
        out.append(item)
    log = {"$schema": SCHEMA_URI, "version": "2.1.0",
           "runs": [{"tool": {"driver": driver}, "results": out}]}
    return json.dumps(log, indent=2, sort_keys=True) + "\n"
