"""``kcompile inventory``: print the resolved inventory."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ..errors import UserError
from ..inventory import Inventory
from ..json_indent import IndentedJSON
from ..outputs import dump_inventory_yaml_chunks
from .options import DEBUG, INVENTORY, apply_options, merge_opts, run_action, settings_from


def _pattern_get(data: Any, pattern: str) -> Any:
    value = data
    for key in [k for k in pattern.replace(":", ".").split(".") if k]:
        if not isinstance(value, dict) or key not in value:
            raise UserError.of(f"--pattern {pattern}: no key {key!r}")
        value = value[key]
    return value


def _stream_json(inv: Inventory) -> None:
    """Print ``{target: ...}`` for every target as ``json.dumps(indent=2, sort_keys=True)``
    would, one target at a time, so memory holds one target, not the fleet.

    Problems are collected and raised at the end, all of them.
    """
    out = sys.stdout
    encoder = IndentedJSON(2)
    problems = []
    first = True
    for name in sorted(inv.names()):
        resolved, errs = inv.resolve_partial([name])
        inv.forget(name)
        problems.extend(errs)
        if errs or problems:
            continue  # keep looking for problems; print nothing more
        # one write per target: the JSON text of one target is small next to the fleet
        out.write(("{\n  " if first else ",\n  ") + json.dumps(name) + ": "
                  + encoder.dumps(resolved[name], 1))
        first = False
    if problems:
        raise UserError(problems)
    out.write("{}\n" if first else "\n}\n")


@click.command("inventory")
@apply_options(INVENTORY)
@click.option("-t", "--target", "target", default=None, help="Only this target.")
@click.option("--pattern", default=None, help="Only this key of the target, e.g. parameters.a.b.")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml",
              show_default=True, help="Output format.")
@apply_options(DEBUG)
@click.pass_context
def inventory_cmd(ctx: click.Context, target: str | None, pattern: str | None, fmt: str,
                  **local: Any) -> None:
    """Print the resolved inventory, or one target's, or one key of it."""
    opts = merge_opts(ctx, local)

    def action() -> int:
        settings = settings_from(opts, "inventory")
        inv = Inventory(settings.inventory_path, settings.backend, settings.compose_target_name,
                        settings.class_wildcards)
        data: Any
        if target:
            data = inv.get(target)
            if pattern:
                data = _pattern_get(data, pattern)
        else:
            if pattern:
                raise UserError.of("--pattern needs -t TARGET")
            if fmt == "json":
                _stream_json(inv)
                return 0
            data = inv.resolve_all()
        if fmt == "json":
            # json.dumps(data, indent=2, sort_keys=True), streamed and faster
            sys.stdout.write(IndentedJSON(2).dumps(data) + "\n")
        else:
            for chunk in dump_inventory_yaml_chunks(data):
                sys.stdout.write(chunk)
        return 0

    run_action(opts, action, writes_compiled=False)
