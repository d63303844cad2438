"""``kcompile explain -t T KEY``: a value's final form and every file:line that made it."""

from __future__ import annotations

import json
from typing import Any

import click

from ..errors import UserError
from ..inventory import Inventory
from ..inventory.native.provenance import Contribution, Explanation, Reference, key_path
from .options import (
    COMPOSE_TARGET_NAME,
    DEBUG,
    INVENTORY_PATH,
    apply_options,
    merge_opts,
    run_action,
    settings_from,
)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    return json.dumps(value, sort_keys=True, default=str)


def _lines(contribs: list[Contribution], indent: str) -> list[str]:
    out = []
    for i, c in enumerate(contribs, 1):
        where = f"{c.file}:{c.line}" if c.file else "(automatic)"
        mark = "  [overridden]" if c.overridden else ""
        via = f" (at {c.path})" if c.path else ""
        out.append(f"{indent}{i}. {where} [{c.source}] {c.action}{via}: {_show(c.raw)}{mark}")
        out.extend(_ref_lines(c.references, indent + "     "))
    return out


def _ref_lines(refs: list[Reference], indent: str) -> list[str]:
    out = []
    for r in refs:
        value = r.error or _show(r.value)
        out.append(f"{indent}{r.ref} = {value}")
        out.extend(_lines(r.contributions, indent + "  "))
    return out


def render_text(exp: Explanation) -> str:
    """The explanation as text, contributions in merge order."""
    lines = [f"target: {exp.target}", f"key: {exp.key}",
             f"value: {_show(exp.value) if exp.found else '(not set)'}",
             "contributions, in merge order:"]
    lines.extend(_lines(exp.contributions, "  ") or ["  (none)"])
    return "\n".join(lines)


@click.command("explain")
@INVENTORY_PATH
@COMPOSE_TARGET_NAME
@click.option("-t", "--target", "target", required=True, help="The target.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="text for people, json for tools.")
@apply_options(DEBUG)
@click.argument("key")
@click.pass_context
def explain_cmd(ctx: click.Context, target: str, fmt: str, key: str, **local: Any) -> None:
    """Explain KEY (a.b.c or a:b:c) of a target: final value and every contribution."""
    opts = merge_opts(ctx, local)

    def action() -> int:
        settings = settings_from(opts)
        # Provenance comes from the native engine, whatever --backend says.
        inv = Inventory(settings.inventory_path, "kapitan-lite", settings.compose_target_name,
                        settings.class_wildcards)
        inv.check_names([target])
        path = key_path(key)
        if not path:
            raise UserError.of(f"empty key {key!r}")
        exp = inv.explain(target, path)
        if fmt == "json":
            click.echo(json.dumps(exp.as_dict(), indent=2, sort_keys=True, default=str))
        else:
            click.echo(render_text(exp))
        return 0 if exp.found else 1

    run_action(opts, action, writes_compiled=False)
