#!/usr/bin/env python3
"""What writing ``compiled/`` costs: a no-change run and a ``-t ONE`` edit run.

On a project that has been compiled once (``compiled/`` present, the cache
warm), each round times, as whole processes with ``os.wait4``:

  none     ``kcompile`` with nothing changed (the cache answers every target);
  one      ``kcompile -t ONE`` after changing a value ONE renders, so ONE's
           files change and the run commits a new ``compiled/`` tree
           (every other target's files hard-linked into it);
  one-same ``kcompile -t ONE --no-cache`` with nothing changed: ONE compiles,
           its files are equal, nothing is committed.

Usage:
  python bench/gen_inventory.py --targets 1000 --out /tmp/fleet
  (cd /tmp/fleet && python -m kapitan_lite)
  python bench/commit_cost.py --project /tmp/fleet --target payments-apne1-prod-02-0119
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

KCOMPILE = [sys.executable, "-m", "kapitan_lite"]


def timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``cmd``; fails loudly if it fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err}")
    # wait4 counts the run and the workers it reaped.
    return wall, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tfile = args.project / "inventory" / "targets" / f"{args.target}.yml"
    original = tfile.read_text()
    samples: dict[str, list[tuple[float, float]]] = {"none": [], "one": [], "one-same": []}
    try:
        timed(KCOMPILE, args.project)  # warm up: compiled/ and the cache current
        for i in range(args.runs):
            samples["none"].append(timed(KCOMPILE, args.project))
            # A value the target renders into its manifests.
            tfile.write_text(original.replace("replicas: ", f"replicas: {i + 1}", 1))
            samples["one"].append(timed([*KCOMPILE, "-t", args.target], args.project))
            samples["one-same"].append(
                timed([*KCOMPILE, "-t", args.target, "--no-cache"], args.project))
    finally:
        tfile.write_text(original)
        timed(KCOMPILE, args.project)
    files = sum(len(f) for _, _, f in os.walk(args.project / "compiled"))
    print(f"{files} files in compiled/, medians of {args.runs} (wall, CPU of the run "
          "and its workers):")
    for name, xs in samples.items():
        wall = [w for w, _ in xs]
        cpu = [c for _, c in xs]
        print(f"  {name:9} {statistics.median(wall):.2f} s wall (min {min(wall):.2f}), "
              f"{statistics.median(cpu):.2f} s CPU (min {min(cpu):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
