"""``kcompile fetch``: fetch the selected targets' dependencies, without compiling."""

from __future__ import annotations

from typing import Any

import click

from ..errors import UserError
from .options import (
    DEBUG,
    INVENTORY,
    OUTPUT_PATH,
    VERBOSE,
    apply_options,
    merge_opts,
    parse_labels,
    run_action,
    settings_from,
)


def fetch_targets(opts: dict[str, Any]) -> int:
    """Fetch, then print what was done."""
    from ..fetch.run import FetchOptions, fetch_project, summary
    from ..inventory import Inventory

    # Paths come from .kapitan's compile section, so fetch writes where compile reads.
    settings = settings_from(opts, "compile")
    names = list(opts.get("targets") or ())
    labels = parse_labels(tuple(opts.get("labels") or ()))
    sources = tuple(opts.get("sources") or ())
    if names and labels:
        raise UserError.of("use either -t or -l, not both")
    if sources and not opts.get("update"):
        raise UserError.of(f"unexpected argument {sources[0]!r}: sources are named "
                           "after --update")
    if opts.get("locked") and opts.get("update"):
        raise UserError.of("use either --locked or --update, not both")
    inventory = Inventory(settings.inventory_path, settings.backend, settings.compose_target_name,
                          settings.class_wildcards)
    selected = inventory.select(names or None, labels or None)
    options = FetchOptions(offline=bool(opts.get("offline")), locked=bool(opts.get("locked")),
                           update=sources if opts.get("update") else None,
                           prune_lock=not names and not labels)
    report = fetch_project(inventory, selected, settings.output_path, settings.root,
                           force=bool(opts.get("force_fetch")), options=options)
    assert report is not None
    if settings.verbose:
        for line in report.details:
            click.echo(line, err=True)
    click.echo(summary(report), err=True)
    return 0


@click.command("fetch")
@click.option("-t", "--targets", "targets", multiple=True,
              help="Fetch this target's dependencies; repeatable (-t a -t b, or -t a b).")
@click.option("-l", "--labels", "labels", multiple=True,
              help="Only targets whose parameters.kapitan.labels match key=value; repeatable.")
@click.option("--locked", is_flag=True, default=None,
              help="Fail, changing nothing, if anything upstream differs from kcompile.lock (CI).")
@click.option("--update", is_flag=True, default=None,
              help="Resolve again and move kcompile.lock forward (all, or the SOURCES named).")
@click.option("--offline", is_flag=True, default=None,
              help="Use the download cache only; fail naming what it lacks.")
@click.option("--force", "--force-fetch", "force_fetch", is_flag=True, default=None,
              help="Replace existing files (else they are kept, as Kapitan does).")
@click.argument("sources", nargs=-1)
@apply_options(INVENTORY)
@apply_options(OUTPUT_PATH)
@apply_options(VERBOSE)
@apply_options(DEBUG)
@click.pass_context
def fetch_cmd(ctx: click.Context, **local: Any) -> None:
    """Fetch the dependencies (git, http, helm, oci) of all or the selected targets."""
    opts = merge_opts(ctx, local)
    run_action(opts, lambda: fetch_targets(opts), writes_compiled=False)
