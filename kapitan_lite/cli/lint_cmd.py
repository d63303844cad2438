"""``kcompile lint``: check the inventory and the repo; one line per finding."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..lint.config import load_config
from ..lint.report import as_json, as_sarif, as_text, summary
from ..lint.run import run_lint
from .options import (
    CLASS_WILDCARDS,
    COMPOSE_TARGET_NAME,
    DEBUG,
    INPUTS,
    INVENTORY_PATH,
    REFS_PATH,
    VERBOSE,
    apply_options,
    merge_opts,
    run_action,
    settings_from,
)

EXIT_FINDINGS = 1


@click.command("lint")
@apply_options([INVENTORY_PATH, COMPOSE_TARGET_NAME, CLASS_WILDCARDS])
@apply_options(REFS_PATH)
@apply_options(INPUTS[:1])  # -J: where templates and components are looked up
@click.option("--search-secrets", is_flag=True, default=None,
              help="Also search the inventory for plaintext secrets (rule plaintext-secret).")
@click.option("--warn-only", is_flag=True, default=None,
              help="Exit 0 even when there are findings.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text",
              help="Output format [text: path:line: rule-id: message].")
@apply_options(VERBOSE)
@apply_options(DEBUG)
@click.pass_context
def lint_cmd(ctx: click.Context, search_secrets: bool | None, warn_only: bool | None, fmt: str,
             **local: Any) -> None:
    """Lint the inventory: YAML, the class graph, refs, unread parameters, secrets."""
    opts = merge_opts(ctx, local)

    def action() -> int:
        settings = settings_from(opts, "lint")
        config = load_config(settings.root, search_secrets, warn_only)
        result = run_lint(settings.inventory_path, settings.refs_path, settings.search_paths,
                          settings.compose_target_name, config, settings.class_wildcards)
        if fmt == "json":
            sys.stdout.write(as_json(result.findings, result.notes))
        elif fmt == "sarif":
            sys.stdout.write(as_sarif(result.findings, result.notes))
        else:
            sys.stdout.write(as_text(result.findings))
        for note in result.notes:
            click.echo(f"note: {note}", err=True)
        click.echo(summary(result.findings), err=True)
        return EXIT_FINDINGS if result.findings and not config.warn_only else 0

    run_action(opts, action, writes_compiled=False)
