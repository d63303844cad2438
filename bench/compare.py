#!/usr/bin/env python3
"""Time kcompile against kapitan compile, side by side, on a generated corpus.

Public tools only: the corpus comes from ``bench/gen_inventory.py``, kapitan
0.36.3 is installed into a side venv on first use (``$KAPITAN_VENV``, default ``.kapitan-venv``), and every run is a whole
process timed with ``os.wait4`` (wall time, CPU time, peak RSS of the largest
process). Commands alternate (A B A B ...) so drift hits both alike; the
ratio is taken pair by pair and its median reported. Outputs are compared
byte for byte before anything is timed.

Scenarios:
  full         both compile every target; compiled/ already there; kcompile --no-cache
  cold         both compile every target into an empty compiled/; kcompile --no-cache
  single       -t ONE (kcompile --no-cache)
  single-edit  -t ONE after editing ONE's target file (a comment, before every run
               of both tools): kcompile recompiles the target with its caches warm
  incremental  kcompile only: a first compile into an empty compiled/, then a
               recompile with nothing changed, then one after editing one cluster
               class; each as a fraction of the first compile
  shard        kcompile only: each of 4 shares (--shard I/4 -p 1 --no-cache) into an
               output directory of its own, as 4 CI jobs; the union must be the full
               compile; per share: targets, wall, CPU, and the balance (max/min)

Usage:
  python bench/compare.py --targets 200 --runs 5 [--scenario full,single,...]
  python bench/compare.py --targets 1000 --runs 3 --markdown >> docs/performance.md
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "golden"))
sys.path.insert(0, str(REPO / "bench"))
from corpus_parity import default_gen, generate, tree_manifest  # noqa: E402
from regen import ensure_kapitan, kapitan_env  # noqa: E402

KCOMPILE = [sys.executable, "-m", "kapitan_lite"]  # --backend is appended in main()


@dataclass
class Sample:
    """One whole-process run."""

    wall: float
    cpu: float
    peak_mib: float


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None,
        before: str | None = None) -> Sample:
    """Run ``cmd`` once in ``cwd``; ``before`` is a shell snippet run first, untimed."""
    if before:
        subprocess.run(["sh", "-c", before], cwd=cwd, check=True)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.stderr.close() if proc.stderr else None
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}:\n{err}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def median(xs: list[float]) -> float:
    """The median."""
    return statistics.median(xs)


class Bench:
    """The corpus copies and commands of one benchmark run."""

    def __init__(self, workdir: Path, targets: int, seed: int, kapitan: Path):
        self.workdir = workdir
        self.kapitan = kapitan
        src = workdir / "corpus"
        generate(default_gen(), targets, seed, src)
        self.k_dir = workdir / "kapitan"
        self.l_dir = workdir / "kcompile"
        shutil.copytree(src, self.k_dir)
        shutil.copytree(src, self.l_dir)
        self.kenv = kapitan_env()
        self.targets = sorted(p.stem for p in (src / "inventory" / "targets").glob("*.yml"))

    def kapitan_cmd(self, *args: str) -> list[str]:
        return [str(self.kapitan), "compile", *args]

    def check_identical(self) -> None:
        """Both tools' full compiles give the same bytes."""
        run(self.kapitan_cmd(), self.k_dir, self.kenv)
        run([*KCOMPILE, "--no-cache"], self.l_dir)
        if tree_manifest(self.k_dir / "compiled") != tree_manifest(self.l_dir / "compiled"):
            raise SystemExit("outputs differ: kcompile's compiled/ is not kapitan's")

    def side_by_side(self, k_args: list[str], l_args: list[str], runs: int,
                     before: str | None = None) -> dict:
        """kcompile (A) against kapitan (B), alternating, one warm-up each."""
        a = lambda: run([*KCOMPILE, *l_args], self.l_dir, before=before)  # noqa: E731
        b = lambda: run(self.kapitan_cmd(*k_args), self.k_dir, self.kenv, before=before)  # noqa: E731
        a(), b()
        pairs = [(a(), b()) for _ in range(runs)]
        return {
            "kcompile": [p[0] for p in pairs],
            "kapitan": [p[1] for p in pairs],
            "ratio": median([p[1].wall / p[0].wall for p in pairs]),
        }

    def incremental(self, runs: int) -> dict:
        """First compile, no-change recompile and one-class-edit recompile (kcompile only)."""
        d = self.l_dir
        first, none, edit = [], [], []
        cls = sorted((d / "inventory" / "classes" / "cluster").glob("*.yml"))[0]
        original = cls.read_text()
        for i in range(runs + 1):
            f = run(KCOMPILE, d, before="rm -rf compiled .kcompile-cache")
            n = run(KCOMPILE, d)
            # A value every target of this cluster renders (its ingress class).
            cls.write_text(original.replace("ingress_class: ", f"ingress_class: edit{i}-", 1))
            e = run(KCOMPILE, d)
            if i == runs:  # the incremental result must be what a clean compile writes
                incremental = tree_manifest(d / "compiled")
                run([*KCOMPILE, "--no-cache"], d, before="rm -rf compiled")
                if tree_manifest(d / "compiled") != incremental:
                    raise SystemExit("the incremental compile differs from a clean compile")
            cls.write_text(original)
            if i:  # the first round is the warm-up
                first.append(f)
                none.append(n)
                edit.append(e)
        run(KCOMPILE, d)
        return {"first": first, "none": none, "edit": edit, "class": cls.name}


def shard_rows(bench: Bench, runs: int, count: int = 4) -> list[str]:
    """Time each of ``count`` shards as a CI job would run it; check their union."""
    d = bench.l_dir
    run([*KCOMPILE, "--no-cache"], d)  # the full compile the union must equal
    full = tree_manifest(d / "compiled")
    samples: dict[int, list[Sample]] = {i: [] for i in range(1, count + 1)}
    union: list[str] = []
    sizes: dict[int, int] = {}
    for r in range(runs):  # shards alternate: 1 2 3 4 1 2 3 4 ...
        for i in samples:
            out = bench.workdir / f"shard-{i}"
            shutil.rmtree(out, ignore_errors=True)
            samples[i].append(run([*KCOMPILE, "--shard", f"{i}/{count}", "--no-cache", "-p", "1",
                                   "--output-path", str(out)], d))
            sizes[i] = len(os.listdir(out / "compiled"))
            if r == 0:
                union += tree_manifest(out / "compiled")
    if sorted(union, key=lambda line: line.rsplit(" ", 1)[-1]) != full:
        raise SystemExit("the union of the shards' compiled/ is not the full compile")
    rows = [f"| `--shard {i}/{count}` ({sizes[i]} targets) | {fmt(v)} | | |"
            for i, v in samples.items()]
    for what in ("wall", "cpu"):
        per = [median([getattr(s, what) for s in v]) for v in samples.values()]
        rows.append(f"| shards' {what} time, max/min | {max(per) / min(per):.2f} | | "
                    "union = full compile |")
    return rows


def fmt(samples: list[Sample]) -> str:
    """Median wall, CPU and peak memory."""
    return (f"{median([s.wall for s in samples]):7.2f} s wall  "
            f"{median([s.cpu for s in samples]):7.2f} s cpu  "
            f"{max(s.peak_mib for s in samples):6.0f} MiB peak")


def machine() -> str:
    """A line about this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fp:
            m = re.search(r"model name\s*:\s*(.+)", fp.read())
            cpu = m.group(1) if m else cpu
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {platform.system()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenario", default="full,cold,single,incremental")
    parser.add_argument("--backend", default=None, help="kcompile's inventory engine")
    args = parser.parse_args()
    if args.backend:
        KCOMPILE.extend(["--backend", args.backend])
    scenarios = args.scenario.split(",")
    kapitan = ensure_kapitan(Path(os.environ.get("KAPITAN_VENV", REPO / ".kapitan-venv")))
    engine = args.backend or "default"
    lines = [f"## {args.targets} targets (seed {args.seed}), {args.runs} runs, kcompile engine: "
             f"{engine}, {time.strftime('%Y-%m-%d')}", "", f"Machine: {machine()}", ""]
    with tempfile.TemporaryDirectory(prefix="kcompile-bench-") as tmp:
        bench = Bench(Path(tmp), args.targets, args.seed, kapitan)
        if set(scenarios) - {"incremental"}:  # the incremental scenario runs kcompile only
            bench.check_identical()
            lines.append("Outputs: byte-identical to kapitan 0.36.3.")
        else:
            lines.append("Incremental result checked against a clean compile.")
        lines.append("")
        lines.append("| scenario | kcompile | kapitan | speed-up (median of pairs) |")
        lines.append("|---|---|---|---|")
        if "full" in scenarios:
            r = bench.side_by_side([], ["--no-cache"], args.runs)
            lines.append(f"| full compile, compiled/ present | {fmt(r['kcompile'])} | "
                         f"{fmt(r['kapitan'])} | {r['ratio']:.1f}x |")
        if "cold" in scenarios:
            r = bench.side_by_side([], ["--no-cache"], args.runs, before="rm -rf compiled")
            lines.append(f"| full compile into empty compiled/ | {fmt(r['kcompile'])} | "
                         f"{fmt(r['kapitan'])} | {r['ratio']:.1f}x |")
        if "single" in scenarios:
            one = bench.targets[len(bench.targets) // 2]
            r = bench.side_by_side(["-t", one], ["--no-cache", "-t", one], args.runs)
            lines.append(f"| `-t {one}` | {fmt(r['kcompile'])} | {fmt(r['kapitan'])} | "
                         f"{r['ratio']:.1f}x |")
        if "single-edit" in scenarios:
            one = bench.targets[len(bench.targets) // 2]
            edit = f"echo '# edited' >> inventory/targets/{one}.yml"
            r = bench.side_by_side(["-t", one], ["-t", one], args.runs, before=edit)
            lines.append(f"| `-t {one}` after editing it, caches warm | {fmt(r['kcompile'])} | "
                         f"{fmt(r['kapitan'])} | {r['ratio']:.1f}x |")
        if "incremental" in scenarios:
            r = bench.incremental(args.runs)
            first = median([s.wall for s in r["first"]])
            for key, label in (("none", "recompile, nothing changed"),
                               ("edit", f"recompile after editing cluster/{r['class']}")):
                share = median([s.wall for s in r[key]]) / first
                lines.append(f"| {label} | {fmt(r[key])} | | {share:.1%} of a first compile "
                             f"({first:.2f} s) |")
        if "shard" in scenarios:
            lines.extend(shard_rows(bench, args.runs))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
