"""``kcompile`` / ``kcompile compile``: compile targets into compiled/."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import click

from ..errors import UserError
from .options import (
    COMMON,
    REVEAL,
    SELECT,
    apply_options,
    merge_opts,
    parse_labels,
    run_action,
    settings_from,
)


def compile_targets(opts: dict[str, Any]) -> int:
    from ..compile.run import compile_project

    settings = settings_from(opts)
    names = list(opts.get("targets") or ())
    labels = parse_labels(tuple(opts.get("labels") or ()))
    if names and labels:
        raise UserError.of("use either -t or -l, not both")

    def progress(result: Any) -> None:
        if settings.verbose and not result.problems:
            m = result.manifest
            click.echo(f"Compiled {result.name} ({len(m.changed)} written, "
                       f"{len(m.files) - len(m.changed)} unchanged)", err=True)

    if settings.reveal and _tracked_by_git(settings.compiled_dir):
        click.echo(f"warning: --reveal writes plaintext secrets into "
                   f"{os.path.normpath(settings.compiled_dir)}/, "
                   "which git tracks: do not commit it", err=True)
    report = compile_project(settings, names or None, labels or None, on_result=progress)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    n = len(report.targets)
    click.echo(f"Compiled {n} target{'s' if n != 1 else ''} in {report.seconds:.2f}s: "
               f"{report.written} files written, {report.unchanged} unchanged", err=True)
    return 0


def _tracked_by_git(path: str) -> bool:
    """Whether git tracks any file under ``path`` (False outside a repository)."""
    try:
        out = subprocess.run(["git", "ls-files", "--", path], capture_output=True, text=True,
                             timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and bool(out.stdout.strip())


@click.command("compile")
@apply_options(COMMON)
@apply_options(SELECT)
@apply_options(REVEAL)
@click.pass_context
def compile_cmd(ctx: click.Context, **local: Any) -> None:
    """Compile all targets, or those selected with -t or -l."""
    opts = merge_opts(ctx, local)
    run_action(opts, lambda: compile_targets(opts))
