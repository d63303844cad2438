"""The lint rules: id, what each checks, and whether it runs without being asked for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """One rule of the table in the README."""

    id: str
    summary: str
    default: bool = True  # runs unless disabled; False: only with its flag or `enable`
    level: str = "warning"  # SARIF level


RULES: dict[str, Rule] = {r.id: r for r in (
    Rule("inventory-error", "a target does not resolve (lint reports it and goes on)", level="error"),
    Rule("yaml-syntax", "a YAML file does not parse", level="error"),
    Rule("yaml-tab", "a tab in the indentation of a YAML line"),
    Rule("yaml-duplicate-key", "a mapping holds the same key twice (the last one silently wins)"),
    Rule("yaml-indentation", "a block is indented by a different step than the rest of its file"),
    Rule("unused-class", "a class that no target uses"),
    Rule("duplicate-include", "a class listed twice, or listed after a class that already includes it"),
    Rule("dead-value", "a class value that every target including the class overrides later"),
    Rule("dead-reference", "a reference that every target including its class overrides later"),
    Rule("override-nothing", "a `~key` override with nothing before it to override, in every target"),
    Rule("unused-ref-file", "a file under refs/ that no ref tag of the inventory or inputs uses"),
    Rule("missing-ref-file", "a ref tag whose ref file does not exist (and no `||` function creates it)"),
    Rule("unlabelled-target", "a target without labels, when other targets have them (-l never selects it)"),
    Rule("unread-parameter", "a parameter that no template, kadet component or reference reads"),
    Rule("plaintext-secret", "a plaintext secret in the inventory: known key formats, "
                             "secret-named keys with literal values, high-entropy strings",
         default=False, level="error"),
)}


def rule_table() -> str:
    """The rules as a Markdown table (the README's)."""
    rows = ["| rule | finds | on by default |", "|---|---|---|"]
    for r in RULES.values():
        on = "yes" if r.default else "with `--search-secrets`" if r.id == "plaintext-secret" else "no"
        rows.append(f"| `{r.id}` | {r.summary} | {on} |")
    return "\n".join(rows)
