"""``kcompile check``: exit 0 when compiled/ is what the sources produce, 1 when not."""

from __future__ import annotations

from typing import Any

import click

from ..errors import UserError
from .options import COMMON, OUTPUT, SHARD, apply_options, merge_opts, run_action, settings_from

EXIT_DIFFERENT = 1


@click.command("check")
@click.option("-t", "--targets", "targets", multiple=True,
              help="Check only this target; repeatable (-t a -t b, or -t a b).")
@apply_options(COMMON)
@apply_options(OUTPUT)
@apply_options(SHARD)
@click.pass_context
def check_cmd(ctx: click.Context, **local: Any) -> None:
    """Compile aside and compare with compiled/: exit 1 with a per-target summary
    when they differ, or when compiled/ holds a secret's plaintext."""
    opts = merge_opts(ctx, local)

    def action() -> int:
        from ..review.check import run_check
        from ..review.report import render_check

        if opts.get("labels"):
            raise UserError.of("check selects targets with -t, not -l")
        settings = settings_from(opts)
        names = list(opts.get("targets") or ())
        if opts.get("shard"):
            from ..compile.shard import share

            _, shard, names = share(settings, opts["shard"], names, None)
            if not names:
                click.echo(f"kcompile check: shard {shard.index}/{shard.count} has no "
                           "targets", err=True)
                return 0
        result = run_check(settings, names or None)
        if result.ok:
            n = result.diff.compared
            click.echo(f"kcompile check: compiled/ is up to date "
                       f"({n} target{'s' if n != 1 else ''})", err=True)
            return 0
        click.echo(render_check(result), nl=False)
        return EXIT_DIFFERENT

    run_action(opts, action, writes_compiled=False)
