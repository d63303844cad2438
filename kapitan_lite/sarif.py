"""SARIF 2.1.0 logs (for GitHub code scanning) from located findings, for any kcompile check."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from . import __version__

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = ("none", "note", "warning", "error")


@dataclass(frozen=True)
class Rule:
    """A rule a tool reports under: its id, a one-line description and its default level."""

    id: str
    description: str
    level: str = "warning"


@dataclass(frozen=True)
class Result:
    """One finding: the rule, what is wrong, the file (relative to the repo) and line, its level."""

    rule_id: str
    message: str
    path: str
    line: int = 0
    level: str = "error"


def sarif_log(tool: str, rules: Iterable[Rule], results: Iterable[Result],
              information_uri: str = "", notes: Iterable[str] = ()) -> str:
    """A SARIF 2.1.0 log of one run of ``tool`` as JSON text.

    Rules keep the order given; paths are relative to the checkout (``%SRCROOT%``);
    ``notes`` (what the run could not check) become tool notifications.
    """
    rules = list(dict.fromkeys(rules))
    index = {r.id: i for i, r in enumerate(rules)}
    driver: dict = {
        "name": tool,
        "version": __version__,
        "rules": [{"id": r.id, "name": r.id, "shortDescription": {"text": r.description},
                   "defaultConfiguration": {"level": _level(r.level)}} for r in rules],
    }
    if information_uri:
        driver["informationUri"] = information_uri
    out = []
    for r in results:
        item: dict = {"ruleId": r.rule_id, "level": _level(r.level),
                      "message": {"text": r.message},
                      "locations": [{"physicalLocation": {
                          "artifactLocation": {"uri": r.path.replace("\\", "/"),
                                               "uriBaseId": "%SRCROOT%"},
                          "region": {"startLine": max(r.line, 1)}}}]}
        if r.rule_id in index:
            item["ruleIndex"] = index[r.rule_id]
        out.append(item)
    run: dict = {"tool": {"driver": driver}, "originalUriBaseIds": {"%SRCROOT%": {"uri": "./"}},
                 "results": out}
    notes = list(notes)
    if notes:
        run["invocations"] = [{"executionSuccessful": True, "toolExecutionNotifications": [
            {"message": {"text": n}, "level": "note"} for n in notes]}]
    log = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, sort_keys=True) + "\n"


def _level(level: str) -> str:
    return level if level in LEVELS else "warning"
