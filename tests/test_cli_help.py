"""Each command's --help lists the options it takes, and says what each does."""

from __future__ import annotations

import click
import pytest
from conftest import kcompile

from kapitan_lite.cli.main import _LAZY, cli


def _commands() -> list[tuple[str, click.Command]]:
    """Every command, sub-commands of groups included, by its full name."""
    ctx = click.Context(cli)
    out: list[tuple[str, click.Command]] = [("kcompile", cli)]
    for name in sorted({*cli.commands, *_LAZY}):
        cmd = cli.get_command(ctx, name)
        assert cmd is not None, name
        out.append((name, cmd))
        if isinstance(cmd, click.Group):
            out.extend((f"{name} {sub}", c) for sub, c in sorted(cmd.commands.items()))
    return out


@pytest.mark.parametrize("name,cmd", _commands(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_option_has_a_description(name, cmd):
    undescribed = [p.opts[0] for p in cmd.params
                   if isinstance(p, click.Option) and not p.hidden and not (p.help or "").strip()]
    assert undescribed == [], f"{name}: options without help: {undescribed}"
    assert (cmd.help or "").strip(), f"{name} has no help text"


def _options(*args: str) -> set[str]:
    run = kcompile(*args, "--help", cwd="/")
    assert run.code == 0, run.err
    return {word.rstrip(",") for line in run.out.splitlines()
            for word in line.split() if word.startswith("-")}


def test_sub_commands_list_only_their_options():
    compile_only = {"-p", "--jinja2-filters", "-J", "--reveal", "--fetch", "-i", "--no-cache"}
    reveal = _options("refs", "reveal")
    assert not reveal & compile_only
    assert not reveal & {"--backend", "--inventory-path", "--output-path", "-v"}
    assert {"--ref-file", "-f", "--tag", "--identity", "--refs-path", "--debug"} <= reveal
    inventory = _options("inventory")
    assert not inventory & compile_only and "--refs-path" not in inventory
    assert {"--inventory-path", "--backend", "--format", "--pattern", "-t"} <= inventory
    explain = _options("explain")
    assert "--backend" not in explain  # explain always uses the native engine's provenance
    assert {"--format", "-t", "--inventory-path"} <= explain
    # `kcompile` alone compiles, so it takes every option of compile.
    assert compile_only <= _options() and compile_only <= _options("compile")


def test_group_options_still_reach_the_command(project):
    # Options before the sub-command are merged into it, as before.
    (project / "inventory").rename(project / "inv")
    run = kcompile("--inventory-path", "inv", "inventory", "-t", "alpha", "--pattern",
                   "parameters.replicas", cwd=project)
    assert run.code == 0, run.err
    assert kcompile("--inventory-path", "inv", "-t", "alpha", cwd=project).code == 0
    assert (project / "compiled/alpha").is_dir()
