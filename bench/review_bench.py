#!/usr/bin/env python3
"""Time ``kcompile diff`` against one ``kcompile`` on the bench corpus.

Generates a corpus with ``gen_inventory.py``, compiles and commits it in a
fresh git repository, then makes one change and times, alternately, a
``kcompile`` in place (``compiled/`` is restored after each) and a
``kcompile diff`` against ``HEAD``; ``kcompile`` runs both without the
incremental cache (every target compiles) and with the cache of the
committed state (only the targets the change touches compile); ``kcompile
diff`` runs with that cache (it compiles only the targets ``kcompile
affected`` names) and without it. Wall time and CPU time (user + system of
the command and its processes) are reported as medians over the rounds.

Changes:
- ``class``: one component class's parameter (inventory only: the base
  compiles only the targets whose inventory changed);
- ``template``: one component template (both sides compile every target).

Usage:
    python bench/review_bench.py [--targets 200] [--seed 42] [--rounds 5] [--change class]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from kapitan_lite.compile.cache import CACHE_NAME  # noqa: E402

KCOMPILE = [sys.executable, "-m", "kapitan_lite"]
GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com"}


def default_gen() -> Path:
    """The fleet generator, ``bench/gen_inventory.py`` (``$KCOMPILE_GEN_INVENTORY`` wins)."""
    env = os.environ.get("KCOMPILE_GEN_INVENTORY")
    return Path(env) if env else REPO / "bench" / "gen_inventory.py"


def run(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Run ``cmd``; its wall time and CPU time (children included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=GIT_ENV)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def make_change(root: Path, kind: str) -> None:
    """One class parameter, or one template line."""
    if kind == "class":
        path = root / "inventory/classes/component/billing.yml"
        text = path.read_text()
        assert "metrics_port: 9090" in text
        path.write_text(text.replace("metrics_port: 9090", "metrics_port: 9191", 1))
    else:
        path = sorted((root / "components").rglob("configmap.yml"))[0]
        path.write_text(path.read_text() + "# reviewed\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--change", choices=["class", "template"], default="class")
    parser.add_argument("--gen", type=Path, default=default_gen())
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="review-bench-") as tmp:
        root = Path(tmp) / "corpus"
        subprocess.run([sys.executable, str(args.gen), "--targets", str(args.targets),
                        "--seed", str(args.seed), "--out", str(root)], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        run(KCOMPILE, root)
        subprocess.run(["git", "add", "-A"], cwd=root, check=True)
        subprocess.run(["git", "commit", "-qm", "corpus"], cwd=root, check=True, env=GIT_ENV)
        make_change(root, args.change)
        cache = root / CACHE_NAME
        saved = Path(tmp) / "cache"
        shutil.copytree(cache, saved)  # the cache of the committed state
        full, warm, diff = "kcompile --no-cache", "kcompile (cache)", "kcompile diff"
        blind, affected = "diff (no cache)", "kcompile affected"
        results: dict[str, list[tuple[float, float]]] = {
            full: [], warm: [], diff: [], blind: [], affected: []}
        for _ in range(args.rounds):
            for name, cmd in ((full, [*KCOMPILE, "--no-cache"]), (warm, KCOMPILE)):
                shutil.rmtree(cache)
                shutil.copytree(saved, cache)
                results[name].append(run(cmd, root))
                subprocess.run(["git", "checkout", "-q", "--", "compiled"], cwd=root, check=True)
            results[diff].append(run([*KCOMPILE, "diff"], cwd=root))
            results[affected].append(run([*KCOMPILE, "affected", "--base", "HEAD"], cwd=root))
            # Without the cache's records, diff cannot narrow the compile down.
            shutil.rmtree(cache)
            results[blind].append(run([*KCOMPILE, "diff"], cwd=root))
            shutil.copytree(saved, cache)
        wall = {k: statistics.median(w for w, _ in v) for k, v in results.items()}
        cpu = {k: statistics.median(c for _, c in v) for k, v in results.items()}
    print(f"corpus: {args.targets} targets, seed {args.seed}, change: {args.change}, "
          f"{args.rounds} rounds, {os.cpu_count()} CPUs")
    for name in results:
        print(f"{name:20s} wall {wall[name]:6.2f}s  cpu {cpu[name]:6.2f}s")
    for base in (full, warm, blind):
        print(f"diff / {base}: wall {wall[diff] / wall[base]:.2f}x, "
              f"cpu {cpu[diff] / cpu[base]:.2f}x")


if __name__ == "__main__":
    main()
