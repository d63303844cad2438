#!/usr/bin/env python3
"""Objects validated per second per core by ``kcompile validate`` on the bench fleet.

Generates the fleet with ``gen_inventory.py`` (1000 targets: 15,357 files,
14,357 of them YAML with 25,555 objects), compiles it once, then runs
``kcompile validate`` alternately cold (no results kept from a previous
run: every file is parsed and validated) and warm (the results of
unchanged files are kept), ``--rounds`` times each. Reported per run kind:
objects per CPU second (user + system of the command: one process, so
per core) and per wall second, medians over the rounds.

kubeconform is not in a package registry this project uses, so it is not
run here; its README reports about 1,900 objects per second per core.

Usage:
    python bench/validate_bench.py [--targets 1000] [--seed 42] [--rounds 3] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RESULTS = os.path.join(".kcompile-cache", "validate.json")


def _run(cmd: list[str], cwd: str) -> tuple[float, float, str]:
    """Run ``cmd``: its wall seconds, CPU seconds (user + system), and stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": REPO})
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stderr


def main() -> None:
    """Generate, compile, then time cold and warm validation alternately."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", help="reuse (or make) the fleet here [a temp dir]")
    args = ap.parse_args()
    root = args.dir or tempfile.mkdtemp(prefix="validate-bench-")
    kcompile = [sys.executable, "-m", "kapitan_lite"]
    if not os.path.isdir(os.path.join(root, "compiled")):
        subprocess.run([sys.executable, os.path.join(HERE, "gen_inventory.py"), "--targets",
                        str(args.targets), "--seed", str(args.seed), "--out", root, "--force"],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run(kcompile, cwd=root, check=True, stderr=subprocess.DEVNULL,
                       env={**os.environ, "PYTHONPATH": REPO})
    rates: dict[str, list[tuple[float, float]]] = {"cold": [], "warm": []}
    objects = 0
    for _ in range(args.rounds):
        for kind in ("cold", "warm"):
            if kind == "cold" and os.path.exists(os.path.join(root, RESULTS)):
                os.unlink(os.path.join(root, RESULTS))
            wall, cpu, err = _run([*kcompile, "validate"], root)
            m = re.search(r"(\d+) objects in (\d+) files", err)
            if not m:
                sys.exit(f"unexpected output: {err}")
            objects = int(m.group(1))
            rates[kind].append((objects / cpu, objects / wall))
    print(f"kcompile validate, {objects} objects, {args.rounds} rounds (median):")
    for kind, values in rates.items():
        per_cpu = statistics.median(v[0] for v in values)
        per_wall = statistics.median(v[1] for v in values)
        print(f"  {kind}: {per_cpu:,.0f} objects/s per core (CPU), {per_wall:,.0f} objects/s wall")


if __name__ == "__main__":
    main()
