"""The report of a validation run: text lines, JSON, or SARIF 2.1.0."""

from __future__ import annotations

import json

from ..sarif import Result, Rule, sarif_log
from .run import Outcome

FORMATS = ("text", "json", "sarif")
RULES = {
    "schema": Rule("schema", "A Kubernetes object does not match its schema"),
    "unknown-kind": Rule("unknown-kind", "No schema for this kind (bundled, CRD or --schemas)"),
    "yaml": Rule("yaml", "A compiled file is not valid YAML or JSON"),
}


def render(outcome: Outcome, fmt: str) -> str:
    """The findings in format ``fmt``: one line each (text), a JSON object, or a SARIF log."""
    if fmt == "json":
        return json.dumps({
            "files": outcome.files, "objects": outcome.objects,
            "errors": outcome.errors, "warnings": outcome.warnings,
            "findings": [{"path": f.path, "line": f.line, "target": f.target, "object": f.obj,
                          "message": f.message, "level": f.level, "rule": f.rule}
                         for f in outcome.findings],
        }, indent=2, sort_keys=True) + "\n"
    if fmt == "sarif":
        return sarif_log(
            "kcompile-validate", RULES.values(),
            [Result(f.rule, f"{f.obj}: {f.message}" if f.obj else f.message, f.path, f.line,
                    f.level) for f in outcome.findings])
    return "".join(f.render() + "\n" for f in outcome.findings)


def summary(outcome: Outcome) -> str:
    """One line for stderr: what was checked and what was found."""
    cached = f", {outcome.cached_files} unchanged (cache)" if outcome.cached_files else ""
    return (f"kcompile validate: {outcome.objects} objects in {outcome.files} files{cached}: "
            f"{outcome.errors} error{'s' if outcome.errors != 1 else ''}, "
            f"{outcome.warnings} warning{'s' if outcome.warnings != 1 else ''} "
            f"in {outcome.seconds:.2f}s")
