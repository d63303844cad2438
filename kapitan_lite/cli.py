"""The ``kcompile`` command line: parse, call the library, print, exit.

Exit codes: 0 success, 1 a check found a difference, 2 a user error,
3 an internal error (a traceback only with ``--debug``).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

import click

from . import __version__
from .errors import UserError
from .inventory import ENGINES, Inventory
from .outputs import dump_inventory_yaml
from .project import Settings, find_root

EXIT_USER = 2
EXIT_INTERNAL = 3

_COMMON = [
    click.option("--inventory-path", default=None, help="Inventory directory [inventory]."),
    click.option("--output-path", default=None, help="Output goes to OUTPUT_PATH/compiled [.]."),
    click.option("--refs-path", default=None, help="Refs directory [refs]."),
    click.option("--backend", "--inventory-backend", "backend", default=None,
                 type=click.Choice(ENGINES), help="Inventory engine [reclass]."),
    click.option("--compose-target-name", is_flag=True, default=None,
                 help="Name targets by their path under targets/ (sub/t.yml -> sub.t)."),
    click.option("-J", "--search-paths", "search_paths", multiple=True,
                 help="Search paths for inputs [. lib]; repeatable."),
    click.option("--jinja2-filters", default=None,
                 help="Custom Jinja2 filters file [lib/jinja2_filters.py]."),
    click.option("-p", "--parallelism", type=click.IntRange(min=1), default=None,
                 help="Worker processes [one per CPU]."),
    click.option("-v", "--verbose", is_flag=True, default=None, help="Say more."),
    click.option("--debug", is_flag=True, default=None, help="Show tracebacks."),
]
_SELECT = [
    click.option("-t", "--targets", "targets", multiple=True,
                 help="Compile this target; repeatable (-t a -t b, or -t a b)."),
    click.option("-l", "--labels", "labels", multiple=True,
                 help="Only targets whose parameters.kapitan.labels match key=value; repeatable."),
]


def _apply(options: list[Callable[..., Any]]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        for opt in reversed(options):
            fn = opt(fn)
        return fn
    return wrap


def _merge(ctx: click.Context, local: dict[str, Any]) -> dict[str, Any]:
    """Options given to the sub-command win over those given before it."""
    merged = dict(ctx.obj or {})
    for key, value in local.items():
        if value not in (None, ()) or key not in merged:
            merged[key] = value
    return merged


def _settings(opts: dict[str, Any]) -> Settings:
    """Find the project root, move there, and build the run's settings."""
    inventory_path = opts.get("inventory_path") or "inventory"
    root = find_root(os.getcwd(), inventory_path)
    os.chdir(root)
    search = tuple(opts.get("search_paths") or ()) or (".", "lib")
    return Settings(
        root=root,
        inventory_path=inventory_path,
        output_path=opts.get("output_path") or ".",
        refs_path=opts.get("refs_path") or "refs",
        search_paths=search,
        jinja2_filters=opts.get("jinja2_filters") or os.path.join("lib", "jinja2_filters.py"),
        backend=opts.get("backend") or "reclass",
        parallelism=opts.get("parallelism") or 0,
        compose_target_name=bool(opts.get("compose_target_name")),
        verbose=bool(opts.get("verbose")),
        debug=bool(opts.get("debug")),
    )


def _labels(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError.of(f"label {pair!r} must look like key=value")
        out[key] = value
    return out


def _terminate(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _run(opts: dict[str, Any], action: Callable[[], int | None]) -> None:
    """Run an action, turning errors into messages and exit codes."""
    debug = bool(opts.get("debug"))
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO if opts.get("verbose") else logging.WARNING,
        format="%(levelname)s: %(message)s",
    )
    # SIGTERM unwinds like Ctrl-C, so the staging area is cleaned up.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        code = action() or 0
    except UserError as exc:
        if debug:
            traceback.print_exc()
        for problem in exc.problems:
            click.echo(problem.render(), err=True)
        n = len(exc.problems)
        click.echo(f"kcompile: {n} problem{'s' if n != 1 else ''}; compiled/ left unchanged",
                   err=True)
        sys.exit(EXIT_USER)
    except KeyboardInterrupt:
        click.echo("kcompile: interrupted; compiled/ left unchanged", err=True)
        sys.exit(130)
    except Exception as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"kcompile: internal error: {type(exc).__name__}: {exc} "
                   "(run with --debug for a traceback)", err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(code)


def _compile(opts: dict[str, Any]) -> int:
    from .compile.run import compile_project

    settings = _settings(opts)
    names = list(opts.get("targets") or ())
    labels = _labels(tuple(opts.get("labels") or ()))
    if names and labels:
        raise UserError.of("use either -t or -l, not both")

    def progress(result: Any) -> None:
        if settings.verbose and not result.problems:
            m = result.manifest
            click.echo(f"Compiled {result.name} ({len(m.changed)} written, "
                       f"{len(m.files) - len(m.changed)} unchanged)", err=True)

    report = compile_project(settings, names or None, labels or None, on_result=progress)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    n = len(report.targets)
    click.echo(f"Compiled {n} target{'s' if n != 1 else ''} in {report.seconds:.2f}s: "
               f"{report.written} files written, {report.unchanged} unchanged", err=True)
    return 0


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@_apply(_COMMON)
@_apply(_SELECT)
@click.version_option(__version__, prog_name="kcompile")
@click.pass_context
def cli(ctx: click.Context, **opts: Any) -> None:
    """Compile a Kapitan inventory into compiled/ (kcompile with no command compiles)."""
    ctx.obj = opts
    if ctx.invoked_subcommand is None:
        _run(opts, lambda: _compile(opts))


@cli.command("compile")
@_apply(_COMMON)
@_apply(_SELECT)
@click.pass_context
def compile_cmd(ctx: click.Context, **local: Any) -> None:
    """Compile all targets, or those selected with -t or -l."""
    opts = _merge(ctx, local)
    _run(opts, lambda: _compile(opts))


def _pattern_get(data: Any, pattern: str) -> Any:
    value = data
    for key in [k for k in pattern.replace(":", ".").split(".") if k]:
        if not isinstance(value, dict) or key not in value:
            raise UserError.of(f"--pattern {pattern}: no key {key!r}")
        value = value[key]
    return value


@cli.command("inventory")
@_apply(_COMMON)
@click.option("-t", "--target", "target", default=None, help="Only this target.")
@click.option("--pattern", default=None, help="Only this key of the target, e.g. parameters.a.b.")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml")
@click.pass_context
def inventory_cmd(ctx: click.Context, target: str | None, pattern: str | None, fmt: str,
                  **local: Any) -> None:
    """Print the resolved inventory, or one target's, or one key of it."""
    opts = _merge(ctx, local)

    def action() -> int:
        settings = _settings(opts)
        inv = Inventory(settings.inventory_path, settings.backend, settings.compose_target_name)
        data: Any
        if target:
            data = inv.get(target)
            if pattern:
                data = _pattern_get(data, pattern)
        else:
            if pattern:
                raise UserError.of("--pattern needs -t TARGET")
            data = inv.resolve_all()
        if fmt == "json":
            click.echo(json.dumps(data, indent=2, sort_keys=True))
        else:
            click.echo(dump_inventory_yaml(data), nl=False)
        return 0

    _run(opts, action)


def _expand_multi_targets(argv: list[str], commands: set[str]) -> list[str]:
    """Accept Kapitan's ``-t a b c`` and ``-l k=v k2=v2`` as well as repeated flags."""
    out: list[str] = []
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
