"""``kcompile init [DIR]``: write a small Kapitan project that compiles straight away."""

from __future__ import annotations

import os
from typing import Any

import click

from .options import run_action


@click.command("init")
@click.argument("directory", default=".", required=False)
@click.option("--debug", is_flag=True, default=None, help="Show tracebacks.")
def init_cmd(directory: str, **opts: Any) -> None:
    """Write a starter project into DIRECTORY [.]: an inventory with a class and a target,
    a Jinja2 component, .kapitan, .gitignore and a README. Existing files are kept."""

    def action() -> int:
        from ..scaffold import write_project

        report = write_project(directory)
        for rel in report.created:
            click.echo(f"created {os.path.join(directory, rel)}", err=True)
        for rel in report.skipped:
            click.echo(f"skipped {os.path.join(directory, rel)} (exists, left unchanged)",
                       err=True)
        where = "" if os.path.abspath(directory) == os.getcwd() else f"cd {directory} && "
        click.echo(f"kcompile init: {len(report.created)} created, {len(report.skipped)} "
                   f"skipped; next: {where}kcompile && kcompile check", err=True)
        return 0

    run_action(opts, action, writes_compiled=False)
