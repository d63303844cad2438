"""``kcompile validate``: validate the compiled Kubernetes objects offline (CRD-aware)."""

from __future__ import annotations

from typing import Any

import click

from ..errors import UserError
from .options import (
    COMMON,
    VALIDATE,
    apply_options,
    merge_opts,
    parse_labels,
    run_action,
    settings_from,
)

EXIT_INVALID = 1

def validate_options(opts: dict[str, Any]) -> Any:
    """The validation options given on the command line."""
    from ..validate.run import Options

    strict = opts.get("strict")
    return Options(strict=True if strict is None else bool(strict),
                   strict_kinds=bool(opts.get("strict_kinds")),
                   schemas_dir=opts.get("schemas_dir"),
                   kubernetes_version=opts.get("kubernetes_version"))


@click.command("validate")
@apply_options(COMMON)
@click.option("-t", "--targets", "targets", multiple=True,
              help="Validate only this target's files; repeatable (-t a -t b, or -t a b).")
@click.option("-l", "--labels", "labels", multiple=True,
              help="Only targets whose parameters.kapitan.labels match key=value; repeatable.")
@apply_options(VALIDATE)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text",
              help="How to print the findings [text: path:line: Kind/namespace/name: message].")
@click.option("--no-cache", "no_cache", is_flag=True, default=None,
              help="Validate every file again, ignoring the results kept of unchanged ones.")
@click.pass_context
def validate_cmd(ctx: click.Context, **local: Any) -> None:
    """Validate the Kubernetes objects in compiled/ against bundled schemas and the tree's CRDs:
    exit 1 when any is invalid."""
    opts = merge_opts(ctx, local)

    def action() -> int:
        from ..validate.report import render, summary
        from ..validate.run import validate_project

        options = validate_options(opts)
        settings = settings_from(opts, "validate")
        names = list(opts.get("targets") or ())
        labels = parse_labels(tuple(opts.get("labels") or ()))
        if names and labels:
            raise UserError.of("use either -t or -l, not both")
        outcome = validate_project(settings, names or None, labels or None, options)
        click.echo(render(outcome, opts.get("fmt") or "text"), nl=False)
        click.echo(summary(outcome), err=True)
        return EXIT_INVALID if outcome.errors else 0

    run_action(opts, action, writes_compiled=False)
