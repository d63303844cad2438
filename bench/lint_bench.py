#!/usr/bin/env python3
"""Time ``kcompile lint`` against ``kcompile inventory`` on a generated fleet, side by side.

Generates a fleet with ``bench/gen_inventory.py`` (1000 targets by default),
then runs, alternately, ``kcompile inventory`` (output discarded) and
``kcompile lint`` (all default rules), ``--rounds`` times each. Reports the
median wall and CPU time (user + system) of each, and lint's ratio to
inventory. The goal is a ratio of 2 or less.

Usage:
    python bench/lint_bench.py [--targets 1000] [--shape fleet|heavy] [--seed 42] [--rounds 3]
                               [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KCOMPILE = [sys.executable, "-m", "kapitan_lite"]
ENV = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Run ``cmd`` (exit 0 or 1 accepted); its wall time and CPU time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          env=ENV, text=True)
    wall = time.monotonic() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    """Generate, time, report."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--shape", choices=["fleet", "heavy"], default="fleet",
                    help="gen_inventory.py's shape (heavy: its own default target count).")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keep", type=Path, default=None, help="Generate into DIR and keep it.")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fleet = args.keep or Path(tmp) / "fleet"
        if not (fleet / "inventory").is_dir():
            size = ["--targets", str(args.targets)] if args.shape == "fleet" else []
            subprocess.run([sys.executable, str(REPO / "bench" / "gen_inventory.py"), *size,
                            "--shape", args.shape, "--seed", str(args.seed),
                            "--out", str(fleet)], check=True, stdout=subprocess.DEVNULL)
        times: dict[str, list[tuple[float, float]]] = {"inventory": [], "lint": []}
        for _ in range(args.rounds):
            for name in times:
                times[name].append(timed([*KCOMPILE, name], fleet))
        med = {name: (statistics.median(w for w, _ in ts), statistics.median(c for _, c in ts))
               for name, ts in times.items()}
    for name, (wall, cpu) in med.items():
        print(f"kcompile {name:<9} wall {wall:6.2f} s   cpu {cpu:6.2f} s")
    print(f"lint / inventory: wall {med['lint'][0] / med['inventory'][0]:.2f}x, "
          f"cpu {med['lint'][1] / med['inventory'][1]:.2f}x "
          f"({args.shape} shape, seed {args.seed}, median of {args.rounds})")


if __name__ == "__main__":
    main()
