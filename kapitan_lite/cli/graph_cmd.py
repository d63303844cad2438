"""``kcompile graph``: a picture of the class hierarchy (Mermaid, dot or SVG)."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import click

from .options import COMMON, EXIT_USER, apply_options, merge_opts, run_action, settings_from

# Mermaid's default maxTextSize and maxEdges: larger diagrams are not drawn.
MERMAID_TEXT_MAX = 50_000
MERMAID_EDGES_MAX = 500


@click.command("graph")
@apply_options(COMMON)
@click.option("-t", "--targets", "targets", multiple=True,
              help="Only this target and the classes it reaches; repeatable (-t a -t b).")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "svg"]),
              default="mermaid", show_default=True,
              help="mermaid: a ```mermaid block for GitHub/GitLab markdown; dot: Graphviz "
                   "source; svg: drawn by Graphviz's dot.")
@click.pass_context
def graph_cmd(ctx: click.Context, fmt: str, **local: Any) -> None:
    """Draw the targets, the classes they include in order (1 merges first), and the
    classes those include, with relative and ${...} class names resolved."""
    opts = merge_opts(ctx, local)

    def action() -> int:
        from ..errors import UserError
        from ..inventory.engine_api import EngineProblems
        from ..inventory.native.classgraph import class_graph
        from ..review.drawing import to_dot, to_mermaid
        from ..review.pictures import class_picture
        from ..review.sides import target_dirs

        settings = settings_from(opts)
        known = set(target_dirs(settings).values())
        wanted = list(dict.fromkeys(opts.get("targets") or ()))
        missing = [n for n in wanted if n not in known]
        if missing:
            raise UserError.of(f"target not found: {', '.join(missing)}",
                               path=settings.inventory_path)
        dot = shutil.which("dot") if fmt == "svg" else None
        if fmt == "svg" and dot is None:
            click.echo("kcompile graph: --format svg needs Graphviz's dot, which is not "
                       "installed (apt-get install graphviz; or use --format mermaid)", err=True)
            return EXIT_USER
        try:
            graph = class_graph(settings.inventory_path, settings.compose_target_name,
                                wanted or None, settings.class_wildcards)
        except EngineProblems as exc:
            raise UserError(exc.problems) from None
        if graph.errors:
            raise UserError([p for name in sorted(graph.errors) for p in graph.errors[name]])
        drawing = class_picture(graph, wanted or None)
        if fmt == "mermaid":
            text = to_mermaid(drawing)
            if len(text) > MERMAID_TEXT_MAX or len(drawing.edges) > MERMAID_EDGES_MAX:
                click.echo(f"warning: {len(text)} characters and {len(drawing.edges)} edges: "
                           f"Mermaid draws at most {MERMAID_TEXT_MAX} and {MERMAID_EDGES_MAX} "
                           "by default (GitHub, GitLab); pick targets with -t", err=True)
            click.echo(text, nl=False)
            return 0
        text = to_dot(drawing)
        if fmt == "dot":
            click.echo(text, nl=False)
            return 0
        proc = subprocess.run([dot or "dot", "-Tsvg"], input=text.encode(), capture_output=True)
        if proc.returncode != 0:
            click.echo(f"kcompile graph: dot failed: "
                       f"{proc.stderr.decode(errors='replace').strip()}", err=True)
            return EXIT_USER
        click.get_binary_stream("stdout").write(proc.stdout)
        return 0

    run_action(opts, action, writes_compiled=False)
