"""The ``kcompile`` group: with no command it compiles; each command lives in its own module."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from .. import KAPITAN_VERSION, __version__
from .compile_cmd import compile_cmd, compile_targets
from .options import COMPILE, apply_options, run_action

# Each command's module is imported only when that command runs (or --help lists it).
_LAZY = {
    "inventory": ("inventory_cmd", "inventory_cmd"),
    "refs": ("refs_cmd", "refs_cmd"),
    "explain": ("explain_cmd", "explain_cmd"),
    "check": ("check_cmd", "check_cmd"),
    "diff": ("diff_cmd", "diff_cmd"),
    "fetch": ("fetch_cmd", "fetch_cmd"),
    "init": ("init_cmd", "init_cmd"),
    "affected": ("affected_cmd", "affected_cmd"),
    "graph": ("graph_cmd", "graph_cmd"),
    "lint": ("lint_cmd", "lint_cmd"),
    "validate": ("validate_cmd", "validate_cmd"),
}


class _Group(click.Group):
    """A group whose commands other than ``compile`` load on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _LAZY and cmd_name not in self.commands:
            module, attr = _LAZY[cmd_name]
            mod = importlib.import_module(f"{__package__}.{module}")
            self.add_command(getattr(mod, attr), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Group, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@apply_options(COMPILE)
@click.version_option(__version__, prog_name="kcompile",
                      message=f"%(prog)s %(version)s (output of kapitan {KAPITAN_VERSION})")
@click.pass_context
def cli(ctx: click.Context, **opts: Any) -> None:
    """Compile a Kapitan inventory into compiled/ (kcompile with no command compiles)."""
    ctx.obj = opts
    if ctx.invoked_subcommand is None:
        run_action(opts, lambda: compile_targets(opts))


cli.add_command(compile_cmd)


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
    cli.main(args=_expand_multi_targets(args, {*cli.commands, *_LAZY}), prog_name="kcompile")
