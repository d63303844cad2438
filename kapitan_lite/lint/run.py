"""One lint run: YAML checks, the fleet's graph rules, refs, reads, secrets; findings in order."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import display_path
from ..inventory.config import absolute_uri, load_reclass_config
from .class_rules import duplicate_includes, unlabelled_targets, unused_classes
from .config import LintConfig
from .findings import Finding, ordered
from .graph import build_fleet
from .overrides import override_findings, replay
from .refs_rules import ref_findings
from .secrets import scan_text
from .unread import scan_inputs, unread_findings
from .yaml_rules import lint_yaml_file

YAML_RULES = frozenset({"yaml-syntax", "yaml-tab", "yaml-duplicate-key", "yaml-indentation"})


@dataclass
class LintRun:
    """What a run found, and what it could not check."""

    findings: list[Finding]
    notes: list[str]


def inventory_files(inventory_path: str, compose_target_name: bool) -> list[str]:
    """Every YAML file of the inventory's classes and targets, sorted."""
    config = load_reclass_config(inventory_path, compose_target_name)
    out = []
    for uri in ("classes_uri", "nodes_uri"):
        base = absolute_uri(inventory_path, config[uri])
        for root, dirs, files in os.walk(base, followlinks=True):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            out.extend(os.path.join(root, f) for f in sorted(files)
                       if f.endswith((".yml", ".yaml")))
    return sorted(set(out))


def run_lint(inventory_path: str, refs_path: str, search_paths: tuple[str, ...],
             compose_target_name: bool, config: LintConfig,
             class_wildcards: bool = False) -> LintRun:
    """Lint the project in the current directory."""
    rules = config.rules
    found: list[Finding] = []
    files = inventory_files(inventory_path, compose_target_name)
    if rules & YAML_RULES:
        for path in files:
            found.extend(lint_yaml_file(path))
    if "plaintext-secret" in rules:
        for path in files:
            try:
                with open(path, encoding="utf-8") as fp:
                    found.extend(scan_text(path, fp.read()))
            except (OSError, UnicodeDecodeError):
                continue
    fleet = build_fleet(inventory_path, compose_target_name, class_wildcards)
    said = {(f.path, f.line) for f in found if f.rule in rules}  # YAML findings say why
    found.extend(Finding(p.path, p.line, "inventory-error",
                         f"{p.target}: {p.message}" if p.target else p.message)
                 for p in fleet.problems if (display_path(p.path), p.line) not in said)
    if "unused-class" in rules:
        found.extend(unused_classes(fleet))
    if "duplicate-include" in rules:
        found.extend(duplicate_includes(fleet))
    if "unlabelled-target" in rules:
        found.extend(unlabelled_targets(fleet))
    notes: list[str] = []
    unwalked = [t.name for t in fleet.targets if not t.entities]
    unresolved = [t.name for t in fleet.targets if t.params is None]
    rep, writes = replay(fleet)
    if unwalked:
        notes.append(f"dead-value, dead-reference, override-nothing, unused-class: not checked, "
                     f"{len(unwalked)} target(s) do not walk their classes")
    else:
        found.extend(override_findings(rep, writes, rules))
    scan = scan_inputs(fleet, search_paths)
    found.extend(ref_findings(fleet, refs_path, scan.files, rules))
    if unresolved and "unread-parameter" in rules:
        notes.append(f"unread-parameter: not checked, {len(unresolved)} target(s) do not resolve")
    elif "unread-parameter" in rules:
        more, notes_unread = unread_findings(fleet, writes, scan)
        found.extend(more)
        notes.extend(notes_unread)
    return LintRun(ordered([f for f in found if f.rule in rules]), notes)
