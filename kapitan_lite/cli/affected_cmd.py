"""``kcompile affected``: the targets a change between two revisions can affect."""

from __future__ import annotations

import json
from typing import Any

import click

from ..errors import one_line
from .options import COMMON, EXIT_USER, apply_options, merge_opts, run_action, settings_from


@click.command("affected")
@apply_options(COMMON)
@click.option("--base", required=True, help="The revision the change starts from.")
@click.option("--head", default=None, help="The revision the change ends at [the working tree].")
@click.option("--format", "fmt", type=click.Choice(["names", "json"]), default="names",
              show_default=True,
              help="names: one target a line, or one line 'all: WHY'; json: an object.")
@click.pass_context
def affected_cmd(ctx: click.Context, base: str, head: str | None, fmt: str,
                 **local: Any) -> None:
    """Print the targets whose compiled output the change from --base to --head
    can affect, from the class graph and what the compile cache recorded;
    'all' (and why) when it cannot know."""
    opts = merge_opts(ctx, local)

    def action() -> int:
        from ..review.affected import affected_between
        from ..review.gitrev import RevisionError

        settings = settings_from(opts)
        try:
            result = affected_between(settings, base, head)
        except RevisionError as exc:
            click.echo(f"kcompile affected: {one_line(str(exc))}", err=True)
            return EXIT_USER
        if fmt == "json":
            click.echo(json.dumps(result.as_dict(), indent=2))
        elif result.everything:
            click.echo(f"all: {result.everything}")
        else:
            for name in result.targets:
                click.echo(name)
        if settings.verbose:
            for name, why in sorted(result.reasons.items()):
                click.echo(f"kcompile affected: {name}: {why}", err=True)
        return 0

    run_action(opts, action, writes_compiled=False)
