"""``kcompile diff``: what a change does to the compiled output, object by object."""

from __future__ import annotations

from typing import Any

import click

from ..errors import one_line
from .options import COMMON, EXIT_USER, OUTPUT, apply_options, merge_opts, run_action, settings_from


@click.command("diff")
@click.option("--base", default="HEAD", show_default=True, help="The revision to compare with.")
@click.option("--head", default=None, help="The revision to compare [the working tree].")
@click.option("-t", "--targets", "targets", multiple=True,
              help="Only this target; repeatable (-t a -t b, or -t a b).")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]),
              default="text", show_default=True, help="text for a terminal, markdown for a PR "
              "comment, json for tools.")
@click.option("--committed", is_flag=True,
              help="Compare the committed compiled/ trees instead of compiling.")
@click.option("--max-size", type=click.IntRange(min=2000), default=None,
              help="Markdown: cut the report to this many characters [60000].")
@click.option("--exit-code", is_flag=True, help="Exit 1 when something differs.")
@apply_options(COMMON)
@apply_options(OUTPUT)
@click.pass_context
def diff_cmd(ctx: click.Context, base: str, head: str | None, fmt: str, committed: bool,
             max_size: int | None, exit_code: bool, **local: Any) -> None:
    """Compile --base and --head (default: HEAD and the working tree) aside and
    report the added, removed and changed objects of each target."""
    opts = merge_opts(ctx, local)

    def action() -> int:
        from ..review import report
        from ..review.diff import DiffRequest, run_diff
        from ..review.gitrev import RevisionError

        settings = settings_from(opts)
        request = DiffRequest(base=base, head=head, committed=committed,
                              names=tuple(dict.fromkeys(opts.get("targets") or ())))
        try:
            result = run_diff(settings, request)
        except RevisionError as exc:
            click.echo(f"kcompile diff: {one_line(str(exc))}", err=True)
            return EXIT_USER
        if fmt == "text":
            colour = click.get_text_stream("stdout").isatty()
            click.echo(report.render_text(result, colour=colour), nl=False, color=colour)
        elif fmt == "markdown":
            click.echo(report.render_markdown(result, max_size or report.MARKDOWN_MAX), nl=False)
        else:
            click.echo(report.render_json(result), nl=False)
        if settings.verbose:
            base_n, head_n = result.compiled
            click.echo(f"kcompile diff: {result.seconds:.2f}s; compiled {base_n} targets "
                       f"of {result.base} and {head_n} of {result.head}", err=True)
        return 1 if exit_code and result.diff.targets else 0

    run_action(opts, action, writes_compiled=False)
