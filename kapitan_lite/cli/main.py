"""The ``kcompile`` group: with no command it compiles; each command lives in its own module."""

from __future__ import annotations

import sys
from typing import Any

import click

from .. import __version__
from .check_cmd import check_cmd
from .compile_cmd import compile_cmd, compile_targets
from .diff_cmd import diff_cmd
from .explain_cmd import explain_cmd
from .inventory_cmd import inventory_cmd
from .options import COMMON, OUTPUT, REVEAL, SELECT, apply_options, run_action
from .refs_cmd import refs_cmd


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@apply_options(COMMON)
@apply_options(SELECT)
@apply_options(OUTPUT)
@apply_options(REVEAL)
@click.version_option(__version__, prog_name="kcompile")
@click.pass_context
def cli(ctx: click.Context, **opts: Any) -> None:
    """Compile a Kapitan inventory into compiled/ (kcompile with no command compiles)."""
    ctx.obj = opts
    if ctx.invoked_subcommand is None:
        run_action(opts, lambda: compile_targets(opts))


cli.add_command(compile_cmd)
cli.add_command(inventory_cmd)
cli.add_command(refs_cmd)
cli.add_command(explain_cmd)
cli.add_command(check_cmd)
cli.add_command(diff_cmd)


def _expand_multi_targets(argv: list[str], commands: set[str]) -> list[str]:
    """Accept Kapitan's ``-t a b c`` and ``-l k=v k2=v2`` as well as repeated flags."""
    out: list[str] = []
    if next((a for a in argv if a in commands), None) in ("explain", "refs"):
        return argv  # these take one target, then other arguments (a KEY, TYPE:PATH)
    i = 0
    while i < len(argv):
        arg = argv[i]
        out.append(arg)
        if arg in ("-t", "--targets", "-l", "--labels") and i + 1 < len(argv):
            out.append(argv[i + 1])
            i += 2
            while i < len(argv) and not argv[i].startswith("-") and argv[i] not in commands:
                out.extend([arg, argv[i]])
                i += 1
            continue
        i += 1
    return out


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = list(sys.argv[1:] if argv is None else argv)
    cli.main(args=_expand_multi_targets(args, set(cli.commands)), prog_name="kcompile")
