"""Options and plumbing shared by every ``kcompile`` command.

Exit codes: 0 success, 1 a check found a difference, 2 a user error,
3 an internal error (a traceback only with ``--debug``).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

import click

from .. import dotkapitan
from ..errors import UserError, one_line, os_problem
from ..inventory import DEFAULT_ENGINE, ENGINES
from ..inventory.engine import REFUSED, engine_problem
from ..project import Settings, find_root

EXIT_USER = 2
EXIT_INTERNAL = 3

# Each command declares the options it uses, picked from these lists, so that
# its --help shows only those. The group (``kcompile`` with no command) takes
# every option of ``compile``; options given before a sub-command are merged
# into it (:func:`merge_opts`).

# Where the inventory is and how it is read.
INVENTORY_PATH = click.option("--inventory-path", default=None,
                              help="Inventory directory (classes/, targets/) [inventory].")
BACKEND = click.option("--backend", "--inventory-backend", "backend", default=None,
                       type=click.Choice((*ENGINES, *REFUSED)),
                       help=f"Inventory engine [{DEFAULT_ENGINE}]; omegaconf is refused, saying why.")
COMPOSE_TARGET_NAME = click.option(
    "--compose-target-name", is_flag=True, default=None,
    help="Name targets by their path under targets/ (sub/t.yml -> sub.t).")
CLASS_WILDCARDS = click.option(
    "--enable-class-wildcards", "class_wildcards", is_flag=True, default=None,
    help="Expand glob patterns (apps.*, dev-?, *) in classes: lists, as Kapitan 0.36.")
INVENTORY = [INVENTORY_PATH, BACKEND, COMPOSE_TARGET_NAME, CLASS_WILDCARDS]
OUTPUT_PATH = [
    click.option("--output-path", default=None, help="Output goes to OUTPUT_PATH/compiled [.]."),
]
REFS_PATH = [
    click.option("--refs-path", default=None, help="Refs directory [refs]."),
]
# What components read: search paths and Jinja2 filters.
INPUTS = [
    click.option("-J", "--search-paths", "search_paths", multiple=True,
                 help="Search paths for inputs [. lib]; repeatable."),
    click.option("--jinja2-filters", default=None,
                 help="Custom Jinja2 filters file [lib/jinja2_filters.py]."),
]
WORKERS = [
    click.option("-p", "--parallelism", type=click.IntRange(min=1), default=None,
                 help="Worker processes [one per CPU]."),
]
VERBOSE = [
    click.option("-v", "--verbose", is_flag=True, default=None,
                 help="Say more (one line per target, times)."),
]
# Every command: .kapitan's version pin applies to each, and so does --debug.
DEBUG = [
    click.option("--ignore-version-check", is_flag=True, default=None,
                 help="Run even if .kapitan pins another Kapitan version."),
    click.option("--debug", is_flag=True, default=None,
                 help="Show tracebacks of errors."),
]
IDENTITY = [
    click.option("--identity", "identities", multiple=True,
                 help="age identity file for revealing age refs; repeatable "
                      "[KCOMPILE_AGE_IDENTITY_FILE]."),
]
# Everything a compile reads from the command line, but what selects and reveals.
COMMON = [*INVENTORY, *OUTPUT_PATH, *REFS_PATH, *INPUTS, *WORKERS, *VERBOSE, *DEBUG]
# Refs options of compile (on the group too, so `kcompile --reveal` works).
REVEAL = [
    click.option("--reveal/--no-reveal", "reveal", default=None,
                 help="Write revealed secrets into compiled/ (never the default)."),
    click.option("--embed-refs", is_flag=True, default=None,
                 help="Write ?{type:<base64>:embedded} tags that carry the ref itself."),
    *IDENTITY,
]
# How compile writes generated objects (kadet, jsonnet, helm).
OUTPUT = [
    click.option("-i", "--indent", type=click.IntRange(min=1), default=None,
                 help="Indentation of YAML and JSON output [2]."),
    click.option("-L", "--yaml-multiline-string-style", default=None,
                 type=click.Choice(["literal", "folded", "double-quotes"]),
                 help="YAML style of multi-line strings [literal]."),
    click.option("--yaml-dump-null-as-empty", is_flag=True, default=None,
                 help="Write YAML nulls as nothing (`key:`) instead of `null`."),
]
# Dependency fetch before a compile (Kapitan's flags; .kapitan's compile: fetch: true).
FETCH = [
    click.option("--fetch", "fetch", is_flag=True, default=None,
                 help="Fetch the selected targets' dependencies first (keeps existing files)."),
    click.option("--force-fetch", "force_fetch", is_flag=True, default=None,
                 help="Fetch dependencies first, replacing existing files."),
    click.option("--force", "force", is_flag=True, default=None, hidden=True,
                 help="Deprecated: --force-fetch."),
    click.option("--offline", is_flag=True, default=None,
                 help="Fetch from the download cache only (needs kcompile.lock)."),
]
# How `kcompile validate` and `kcompile --validate` validate the Kubernetes objects.
VALIDATE = [
    click.option("--kubernetes-version", default=None,
                 help="Validate against this Kubernetes version [the target's "
                      "parameters.kapitan.validate, else the newest bundled]."),
    click.option("--strict/--no-strict", "strict", default=None,
                 help="Unknown fields are errors [--strict]."),
    click.option("--strict-kinds", is_flag=True, default=None,
                 help="A kind with no schema is an error, not a warning."),
    click.option("--schemas", "schemas_dir", default=None,
                 help="A directory of CRD files and JSON schemas for kinds not bundled."),
]
# `kcompile --validate`: validate the new output before it is written.
COMPILE_VALIDATE = [
    click.option("--validate", "validate", is_flag=True, default=None,
                 help="Validate the Kubernetes objects before writing: an invalid one fails "
                      "the compile and leaves compiled/ as it was."),
    *VALIDATE,
]
SELECT = [
    click.option("-t", "--targets", "targets", multiple=True,
                 help="Compile this target; repeatable (-t a -t b, or -t a b)."),
    click.option("-l", "--labels", "labels", multiple=True,
                 help="Only targets whose parameters.kapitan.labels match key=value; repeatable."),
    click.option("--no-cache", "no_cache", is_flag=True, default=None,
                 help="Compile every selected target, ignoring the incremental cache."),
]

# CI sharding (compile and check).
SHARD = [
    click.option("--shard", default=None, metavar="I/N",
                 help="Take share I of N of the selected targets, balanced by compile cost "
                      "(the same partition in every CI job)."),
]
# Compile only: record each compiled target's time for --shard.
RECORD = [
    click.option("--record-costs", is_flag=True, default=None,
                 help="Write each compiled target's compile time to kcompile-costs.json "
                      "(commit it; --shard balances by it)."),
]

# Everything a compile takes: ``kcompile`` itself and ``kcompile compile``.
COMPILE = [*COMMON, *SELECT, *OUTPUT, *REVEAL, *FETCH, *SHARD, *RECORD, *COMPILE_VALIDATE]


def apply_options(options: list[Callable[..., Any]]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        for opt in reversed(options):
            fn = opt(fn)
        return fn
    return wrap


def merge_opts(ctx: click.Context, local: dict[str, Any]) -> dict[str, Any]:
    """Options given to the sub-command win over those given before it."""
    merged = dict(ctx.obj or {})
    for key, value in local.items():
        if value not in (None, ()) or key not in merged:
            merged[key] = value
    return merged


def settings_from(opts: dict[str, Any], command: str = "compile") -> Settings:
    """Find the project root, move there, and build the run's settings.

    Options not given on the command line come from ``.kapitan`` (the
    ``command`` section, then ``global``), then from the built-in defaults.
    """
    # Files named on the command line are relative to where it was typed.
    identities = tuple(os.path.abspath(p) for p in opts.get("identities") or ())
    root = find_root(os.getcwd(), opts.get("inventory_path") or "inventory")
    os.chdir(root)
    opts.update(dotkapitan.apply(root, command, opts))
    if opts.get("backend") and (problem := engine_problem(opts["backend"])):
        raise UserError.of(f"--inventory-backend {problem}")
    inventory_path = opts.get("inventory_path") or "inventory"
    search = tuple(opts.get("search_paths") or ()) or (".", "lib")
    output_path = opts.get("output_path") or "."
    if os.path.exists(os.path.join(output_path, ".kcompile-staging", "commit.journal")):
        # A run killed mid-commit on a file system without an atomic exchange.
        from ..compile.workarea import recover_interrupted

        for notice in recover_interrupted(output_path):
            click.echo(f"warning: {notice}", err=True)
    return Settings(
        root=root,
        inventory_path=inventory_path,
        output_path=output_path,
        refs_path=opts.get("refs_path") or "refs",
        search_paths=search,
        jinja2_filters=opts.get("jinja2_filters") or os.path.join("lib", "jinja2_filters.py"),
        backend=opts.get("backend") or DEFAULT_ENGINE,
        parallelism=opts.get("parallelism") or 0,
        compose_target_name=bool(opts.get("compose_target_name")),
        class_wildcards=bool(opts.get("class_wildcards")),
        reveal=bool(opts.get("reveal")),
        embed_refs=bool(opts.get("embed_refs")),
        identities=identities,
        cache=not opts.get("no_cache"),
        verbose=bool(opts.get("verbose")),
        debug=bool(opts.get("debug")),
        indent=opts.get("indent") or 2,
        yaml_multiline_string_style=opts.get("yaml_multiline_string_style") or "literal",
        yaml_dump_null_as_empty=bool(opts.get("yaml_dump_null_as_empty")),
    )


def parse_labels(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError.of(f"label {pair!r} must look like key=value")
        out[key] = value
    return out


def _terminate(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _compiled_state(writes_compiled: bool) -> str:
    """What a failed run says of compiled/: only what is true."""
    if not writes_compiled:
        return ""
    from ..compile.exchange import replaced_any

    if replaced_any():
        return "; compiled/ was already replaced with the new tree"
    return "; compiled/ left unchanged"


def run_action(opts: dict[str, Any], action: Callable[[], int | None],
               writes_compiled: bool = True) -> None:
    """Run an action, turning errors into messages and exit codes.

    ``writes_compiled``: the action may write ``compiled/``, so a failure says
    that it left it unchanged.
    """
    debug = bool(opts.get("debug"))
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO if opts.get("verbose") else logging.WARNING,
        format="%(levelname)s: %(message)s",
    )
    # SIGTERM unwinds like Ctrl-C, so the staging area is cleaned up.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        code = action() or 0
        sys.stdout.flush()  # a closed stdout fails here, not at exit
    except BrokenPipeError:
        _closed_stdout()
    except UserError as exc:
        if debug:
            traceback.print_exc()
        for problem in exc.problems:
            click.echo(problem.render(), err=True)
        n = len(exc.problems)
        if getattr(exc, "summary", True):
            click.echo(f"kcompile: {n} problem{'s' if n != 1 else ''}"
                       f"{_compiled_state(writes_compiled)}", err=True)
        sys.exit(EXIT_USER)
    except OSError as exc:
        problem = os_problem(exc)
        if problem is None:
            _internal_error(exc, debug)
        if debug:
            traceback.print_exc()
        click.echo(problem.render(), err=True)
        click.echo(f"kcompile: 1 problem{_compiled_state(writes_compiled)}", err=True)
        sys.exit(EXIT_USER)
    except KeyboardInterrupt:
        click.echo(f"kcompile: interrupted{_compiled_state(writes_compiled)}", err=True)
        sys.exit(130)
    except Exception as exc:
        _internal_error(exc, debug)
    sys.exit(code)


def _closed_stdout() -> None:
    """The reader of stdout went away (``| head``): end quietly, as Unix tools do."""
    # Nothing more can be written there; keep the exit-time flush from complaining.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(128 + signal.SIGPIPE)


def _internal_error(exc: Exception, debug: bool) -> None:
    """Report one of kcompile's own bugs and exit 3."""
    if debug:
        traceback.print_exc()
    click.echo(f"kcompile: internal error: {type(exc).__name__}: {one_line(str(exc))} "
               "(run with --debug for a traceback)", err=True)
    sys.exit(EXIT_INTERNAL)
