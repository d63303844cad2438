"""``kcompile`` / ``kcompile compile``: compile targets into compiled/."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ..errors import UserError
from .options import (
    COMPILE,
    apply_options,
    merge_opts,
    parse_labels,
    run_action,
    settings_from,
)


class _Progress:
    """A progress bar on a terminal, or one line per target with -v."""

    def __init__(self, verbose: bool):
        self.verbose = verbose
        self.bar: Any = None

    def start(self, total: int) -> None:
        if total > 1 and not self.verbose and sys.stderr.isatty():
            self.bar = click.progressbar(length=total, label="Compiling", file=sys.stderr)
            self.bar.__enter__()

    def advance(self, result: Any) -> None:
        if self.bar is not None:
            self.bar.update(1)
        elif self.verbose and not result.problems:
            m = result.manifest
            stages = ", ".join(f"{k} {v * 1000:.0f}ms" for k, v in result.timings.items())
            click.echo(f"Compiled {result.name}: {len(m.changed)} written, "
                       f"{len(m.files) - len(m.changed)} unchanged ({stages})", err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


# What the process frees only by exiting: the last compile's cache and inventory,
# hundreds of thousands of objects that no one reads once it has reported.
_FREED_BY_EXIT: list[object] = []


def compile_targets(opts: dict[str, Any]) -> int:
    """Run a compile from command-line options and print its summary."""
    from ..compile.run import compile_project

    settings = settings_from(opts)
    names = list(opts.get("targets") or ())
    labels = parse_labels(tuple(opts.get("labels") or ()))
    if names and labels:
        raise UserError.of("use either -t or -l, not both")
    if settings.reveal and _tracked_by_git(settings.compiled_dir):
        click.echo(f"warning: --reveal writes plaintext secrets into "
                   f"{os.path.normpath(settings.compiled_dir)}/, "
                   "which git tracks: do not commit it", err=True)
    shard_inventory = None
    if opts.get("shard"):
        from ..compile.shard import share

        shard_inventory, shard, names = share(settings, opts["shard"], names, labels)
        labels = {}
        if not names:
            click.echo(f"shard {shard.index}/{shard.count}: no targets to compile", err=True)
            return 0
    inventory = _fetch_first(settings, opts, names, labels) or shard_inventory
    if inventory is None and opts.get("record_costs"):
        from ..inventory import Inventory

        inventory = Inventory(settings.inventory_path, settings.backend,
                              settings.compose_target_name, settings.class_wildcards)
    progress = _Progress(settings.verbose)
    seconds: dict[str, float] = {}

    def on_result(result: Any) -> None:
        seconds[result.name] = sum(result.timings.values())
        progress.advance(result)

    _FREED_BY_EXIT.clear()  # the one before, if any, is freed now
    try:
        report = compile_project(settings, names or None, labels or None,
                                 on_result=on_result, on_start=progress.start,
                                 inventory=inventory,
                                 before_commit=_validator(settings, opts),
                                 keep=_FREED_BY_EXIT)
    finally:
        progress.close()
    if opts.get("record_costs"):
        from ..compile.shard import save_costs

        path = save_costs(settings.root, seconds, set(inventory.names()))
        click.echo(f"recorded the compile time of {len(seconds)} targets in "
                   f"{os.path.relpath(path)}", err=True)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if settings.verbose:
        stages = ", ".join(f"{k} {v:.2f}s" for k, v in report.timings.items())
        click.echo(f"Time per stage (summed over workers): {stages}", err=True)
    click.echo(f"{len(report.compiled)} compiled, {len(report.cached)} unchanged (cache) "
               f"in {report.seconds:.2f}s: {report.written} files written, "
               f"{report.unchanged} unchanged", err=True)
    return 0


def _validator(settings: Any, opts: dict[str, Any]) -> Any:
    """With ``--validate``, the check a compile runs before it writes: invalid objects fail it."""
    if not opts.get("validate"):
        return None
    from .validate_cmd import validate_options

    options = validate_options(opts)
    from ..validate.run import Schemas

    schemas = Schemas(options)  # now: without the extra, fail before compiling

    def check(inventory: Any, files: list[Any]) -> None:
        from ..errors import Problem
        from ..validate.report import summary
        from ..validate.run import validate_targets

        selected = sorted({f.target for f in files})
        outcome = validate_targets(settings, inventory, selected,
                                   [(f.target, f.rel, f.shown, f.disk) for f in files],
                                   options, schemas)
        for finding in outcome.findings:
            if finding.level != "error":
                click.echo(finding.render(), err=True)
        if outcome.errors:
            raise UserError([Problem(f.path, f.line, f.obj, f.message)
                             for f in outcome.findings if f.level == "error"])
        if settings.verbose:
            click.echo(summary(outcome), err=True)

    return check


def _fetch_first(settings: Any, opts: dict[str, Any], names: list[str],
                 labels: dict[str, str]) -> Any:
    """Fetch the selected targets' dependencies when Kapitan would; the inventory, if loaded.

    ``--fetch`` (or ``.kapitan``'s ``fetch: true``) fetches, keeping existing
    files; ``--force-fetch`` (and the deprecated ``--force``) replaces them;
    with neither, the targets with a dependency that sets ``force_fetch`` are
    fetched, forced.
    """
    from ..compile.cache import CACHE_NAME
    from ..fetch.mentions import mentions_force_fetch

    if opts.get("force"):
        click.echo("warning: --force is deprecated: use --force-fetch", err=True)
    force = bool(opts.get("force_fetch") or opts.get("force"))
    fetch = bool(opts.get("fetch")) or force
    memo = os.path.join(settings.output_path, CACHE_NAME, "force-fetch.json")
    if not fetch and not mentions_force_fetch(settings.inventory_path, memo):
        return None
    from ..fetch.run import FetchOptions, fetch_project, summary
    from ..inventory import Inventory

    inventory = Inventory(settings.inventory_path, settings.backend, settings.compose_target_name,
                          settings.class_wildcards)
    selected = inventory.select(names or None, labels or None)
    report = fetch_project(inventory, selected, settings.output_path, settings.root,
                           force=force, only_force_fetch=not fetch,
                           options=FetchOptions(offline=bool(opts.get("offline"))))
    if report is not None and settings.verbose:
        for line in report.details:
            click.echo(line, err=True)
    if report is not None and (settings.verbose or report.written):
        click.echo(summary(report), err=True)
    return inventory


def _tracked_by_git(path: str) -> bool:
    """Whether git tracks any file under ``path`` (False outside a repository)."""
    import subprocess

    try:
        out = subprocess.run(["git", "ls-files", "--", path], capture_output=True, text=True,
                             timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and bool(out.stdout.strip())


@click.command("compile")
@apply_options(COMPILE)
@click.pass_context
def compile_cmd(ctx: click.Context, **local: Any) -> None:
    """Compile all targets, or those selected with -t or -l."""
    opts = merge_opts(ctx, local)
    run_action(opts, lambda: compile_targets(opts))
