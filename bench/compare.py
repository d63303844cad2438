#!/usr/bin/env python3
"""Time kcompile against kapitan compile, side by side, on a generated corpus.

Public tools only: the corpus comes from ``bench/gen_inventory.py``, kapitan
0.36.3 is installed into a side venv on first use (``$KAPITAN_VENV``, default
``.kapitan-venv``), and every run is a whole process timed with ``os.wait4``
(wall time, CPU time, peak RSS of the largest process). Commands alternate (A B A B ...) so drift hits both alike; the
ratio is taken pair by pair and its median reported. Outputs are compared
byte for byte before anything is timed. Both tools run with Python's
bytecode cache on, as installed tools do (``PYTHONDONTWRITEBYTECODE`` is
dropped), after one untimed warm-up run each.

Scenarios:
  full         both compile every target; compiled/ already there; kcompile --no-cache
  cold         both compile every target into an empty compiled/; kcompile --no-cache
  single       -t ONE (kcompile --no-cache)
  single-edit  -t ONE after editing ONE's target file (a comment, before every run
               of both tools): kcompile recompiles the target with its caches warm
  incremental  kcompile only: a first compile into an empty compiled/, then a
               recompile with nothing changed, then one after editing one cluster
               class; each as a fraction of the first compile (an untimed sync
               before each)
  git-status   kcompile with nothing changed against ``git status --porcelain``, on
               the same committed tree (sources and compiled/)
  scale        kcompile only: a cold compile (empty compiled/, --no-cache) of
               ``--scale-factor`` times the targets against one of ``--targets``;
               with ``--scale-kapitan``, also kapitan's cold compile of ``--targets``
  shard        kcompile only: each of 4 shares (--shard I/4 -p 1 --no-cache) into an
               output directory of its own, as 4 CI jobs; the union must be the full
               compile; per share: targets, wall, CPU, and the balance (max/min)

Usage:
  python bench/compare.py --targets 200 --runs 5 [--scenario full,single,...]
  python bench/compare.py --targets 1000 --runs 3 --scenario git-status
  python bench/compare.py --targets 1000 --runs 1 --scenario scale --scale-kapitan
  python bench/compare.py --shape heavy --runs 3 --scenario full --kapitan-backend reclass-rs
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "golden"))
sys.path.insert(0, str(REPO / "bench"))
from corpus_parity import default_gen, tree_manifest  # noqa: E402
from regen import ensure_kapitan, kapitan_env  # noqa: E402

KCOMPILE = [sys.executable, "-m", "kapitan_lite"]  # --backend is appended in main()
# Kapitan's own extra for its reclass-rs backend (kapitan[reclass-rs] 0.36.3).
RECLASS_RS_FOR_KAPITAN = "reclass-rs>=0.10.1,<0.11"


@dataclass
class Sample:
    """One whole-process run."""

    wall: float
    cpu: float  # user + system
    peak_mib: float
    user: float = 0.0  # the process's own work, without the kernel's (file writes)


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None,
        before: str | None = None) -> Sample:
    """Run ``cmd`` once in ``cwd``; ``before`` is a shell snippet run first, untimed."""
    if before:
        subprocess.run(["sh", "-c", before], cwd=cwd, check=True)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env or tool_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.stderr.close() if proc.stderr else None
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}:\n{err}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                  usage.ru_utime)


def tool_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a timed tool: its bytecode cache on, as when installed."""
    env = dict(os.environ if base is None else base)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def median(xs: list[float]) -> float:
    """The median."""
    return statistics.median(xs)


def generate(shape: str, targets: int | None, seed: int, out: Path) -> None:
    """Write a corpus with ``bench/gen_inventory.py``."""
    cmd = [sys.executable, str(default_gen()), "--shape", shape, "--seed", str(seed),
           "--out", str(out)]
    if targets is not None:
        cmd += ["--targets", str(targets)]
    subprocess.run(cmd, check=True, capture_output=True)


def kapitan_extras(backend: str | None, kapitan: Path, workdir: Path) -> str | None:
    """A dir with what kapitan's ``backend`` needs, when its venv lacks it (else None).

    Installed with pip into ``$KAPITAN_EXTRAS`` (kept) or the bench's temp dir, never
    into the venv itself.
    """
    if backend != "reclass-rs":
        return None
    python = kapitan.parent / "python"
    if subprocess.run([str(python), "-c", "import reclass_rs"], capture_output=True).returncode == 0:
        return None
    target = Path(os.environ.get("KAPITAN_EXTRAS") or workdir / "kapitan-extras")
    if not (target / "reclass_rs").exists():
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--target", str(target),
                        RECLASS_RS_FOR_KAPITAN], check=True)
    return str(target)


class Bench:
    """The corpus copies and commands of one benchmark run."""

    def __init__(self, workdir: Path, args: argparse.Namespace, kapitan: Path):
        self.workdir = workdir
        self.args = args
        self.kapitan = kapitan
        src = workdir / "corpus"
        generate(args.shape, args.targets, args.seed, src)
        self.k_dir = workdir / "kapitan"
        self.l_dir = workdir / "kcompile"
        shutil.copytree(src, self.k_dir)
        shutil.copytree(src, self.l_dir)
        self.kenv = tool_env(kapitan_env())
        extras = kapitan_extras(args.kapitan_backend, kapitan, workdir)
        if extras:
            self.kenv["PYTHONPATH"] = extras
        self.k_args = ["--inventory-backend", args.kapitan_backend] if args.kapitan_backend else []
        self.targets = sorted(p.stem for p in (src / "inventory" / "targets").glob("*.yml"))

    def kapitan_cmd(self, *args: str) -> list[str]:
        return [str(self.kapitan), "compile", *self.k_args, *args]

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
        return alternate(a, b, runs)

    def incremental(self, runs: int) -> dict:
        """First compile, no-change recompile and one-class-edit recompile (kcompile only)."""
        d = self.l_dir
        first, none, edit = [], [], []
        cls = sorted((d / "inventory" / "classes" / "cluster").glob("*.yml"))[0]
        original = cls.read_text()
        # Each run starts with an untimed sync, as in the shard scenario: the file
        # system flushes what the run before wrote (a cold compile leaves some 15,000
        # files to write back), so that each run pays for its own work only.
        for i in range(runs + 1):
            f = run(KCOMPILE, d, before="rm -rf compiled .kcompile-cache && sync")
            n = run(KCOMPILE, d, before="sync")
            # A value every target of this cluster renders (its ingress class).
            cls.write_text(original.replace("ingress_class: ", f"ingress_class: edit{i}-", 1))
            e = run(KCOMPILE, d, before="sync")
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


def alternate(a: Callable[[], Sample], b: Callable[[], Sample], runs: int,
              warm_up: bool = True) -> dict:
    """``a`` and ``b`` in turn, after one warm-up each; the median of the ratios b/a."""
    if warm_up:
        a(), b()
    pairs = [(a(), b()) for _ in range(runs)]
    return {
        "kcompile": [p[0] for p in pairs],
        "kapitan": [p[1] for p in pairs],
        "ratio": median([p[1].wall / p[0].wall for p in pairs]),
    }


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


# -- scenarios: each returns the rows it adds to the table ---------------------------


def full(bench: Bench, runs: int) -> list[str]:
    """Both compile every target, compiled/ already there."""
    r = bench.side_by_side([], ["--no-cache"], runs)
    return [f"| full compile, compiled/ present | {fmt(r['kcompile'])} | "
            f"{fmt(r['kapitan'])} | {r['ratio']:.1f}x |"]


def cold(bench: Bench, runs: int) -> list[str]:
    """Both compile every target into an empty compiled/."""
    r = bench.side_by_side([], ["--no-cache"], runs, before="rm -rf compiled")
    return [f"| full compile into empty compiled/ | {fmt(r['kcompile'])} | "
            f"{fmt(r['kapitan'])} | {r['ratio']:.1f}x |"]


def single(bench: Bench, runs: int) -> list[str]:
    """``-t ONE``, kcompile without its cache."""
    one = bench.targets[len(bench.targets) // 2]
    r = bench.side_by_side(["-t", one], ["--no-cache", "-t", one], runs)
    return [f"| `-t {one}` | {fmt(r['kcompile'])} | {fmt(r['kapitan'])} | {r['ratio']:.1f}x |"]


def single_edit(bench: Bench, runs: int) -> list[str]:
    """``-t ONE`` after editing ONE's target file; kcompile's caches warm."""
    one = bench.targets[len(bench.targets) // 2]
    edit = f"echo '# edited' >> inventory/targets/{one}.yml"
    r = bench.side_by_side(["-t", one], ["-t", one], runs, before=edit)
    return [f"| `-t {one}` after editing it, caches warm | {fmt(r['kcompile'])} | "
            f"{fmt(r['kapitan'])} | {r['ratio']:.1f}x |"]


def incremental(bench: Bench, runs: int) -> list[str]:
    """No-change and one-class-edit recompiles as a share of a first compile."""
    r = bench.incremental(runs)
    first = median([s.wall for s in r["first"]])
    rows = []
    for key, label in (("none", "recompile, nothing changed"),
                       ("edit", f"recompile after editing cluster/{r['class']}")):
        share = median([s.wall for s in r[key]]) / first
        rows.append(f"| {label} | {fmt(r[key])} | | {share:.1%} of a first compile "
                    f"({first:.2f} s) |")
    return rows


def git_status(bench: Bench, runs: int) -> list[str]:
    """A no-change recompile against ``git status --porcelain`` on the same committed tree."""
    d = bench.l_dir
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    run(KCOMPILE, d, before="rm -rf compiled .kcompile-cache")
    run(KCOMPILE, d)  # the cache now notes every source's stat
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "bench"]):
        subprocess.run([*git, *cmd], cwd=d, check=True, capture_output=True)
    status = ["git", "status", "--porcelain"]
    files = subprocess.run(["git", "ls-files"], cwd=d, check=True, capture_output=True,
                           text=True).stdout.count("\n")
    r = alternate(lambda: run(KCOMPILE, d), lambda: run(status, d), runs)
    left = subprocess.run(status, cwd=d, check=True, capture_output=True, text=True).stdout
    if left:
        raise SystemExit(f"a no-change recompile left the tree changed:\n{left}")
    pairs = list(zip(r["kcompile"], r["kapitan"], strict=True))
    wall = median([a.wall / b.wall for a, b in pairs])
    cpu = median([a.cpu / max(b.cpu, 1e-3) for a, b in pairs])
    return [f"| recompile, nothing changed, against `git status --porcelain` ({files} files) | "
            f"{fmt(r['kcompile'])} | {fmt(r['kapitan'])} (git) | "
            f"{wall:.2f}x git's wall time, {cpu:.2f}x its CPU time (medians of pairs) |"]


def scale(bench: Bench, runs: int) -> list[str]:
    """Cold compiles of ``--scale-factor`` times the targets against ``--targets``."""
    args = bench.args
    if not args.targets:
        raise SystemExit("the scale scenario needs --targets")
    big_n = args.targets * args.scale_factor
    big = bench.workdir / "big"
    generate(args.shape, big_n, args.seed, big)
    for d in (bench.l_dir, big):  # compiled templates and bytecode warm, compiled/ empty
        one = min(p.stem for p in (d / "inventory" / "targets").glob("*.yml"))
        run([*KCOMPILE, "--no-cache", "-t", one], d)
    cold_run = "rm -rf compiled"
    small = lambda: run([*KCOMPILE, "--no-cache"], bench.l_dir, before=cold_run)  # noqa: E731
    large = lambda: run([*KCOMPILE, "--no-cache"], big, before=cold_run)  # noqa: E731
    r = alternate(small, large, runs, warm_up=False)  # the corpus' own first runs warm both
    rows = [f"| cold compile, {args.targets} targets | {fmt(r['kcompile'])} | | |",
            f"| cold compile, {big_n} targets | {fmt(r['kapitan'])} | | "
            f"{r['ratio']:.2f}x the time of {args.targets} (median of pairs) |"]
    if args.scale_kapitan:
        k = [run(bench.kapitan_cmd(), bench.k_dir, bench.kenv, before=cold_run)
             for _ in range(runs)]
        rows.append(f"| kapitan, cold compile, {args.targets} targets (reference) | | {fmt(k)} | "
                    f"{median([s.wall for s in k]) / median([s.wall for s in r['kcompile']]):.1f}x "
                    f"kcompile's time at {args.targets} |")
    return rows


def shard(bench: Bench, runs: int, count: int = 4) -> list[str]:
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
            # Untimed: the file system flushes what earlier runs wrote and removed, so
            # that each share pays for its own writes only, as a fresh CI job does.
            samples[i].append(run([*KCOMPILE, "--shard", f"{i}/{count}", "--no-cache", "-p", "1",
                                   "--output-path", str(out)], d, before="sync"))
            sizes[i] = len(os.listdir(out / "compiled"))
            if r == 0:
                union += tree_manifest(out / "compiled")
    if sorted(union, key=lambda line: line.rsplit(" ", 1)[-1]) != full:
        raise SystemExit("the union of the shards' compiled/ is not the full compile")
    rows = [f"| `--shard {i}/{count}` ({sizes[i]} targets) | {fmt(v)} | | |"
            for i, v in samples.items()]
    # User time too: the system time of a share's writes moves up to 4x between
    # identical runs on some VMs, whatever the partition.
    for what in ("wall", "cpu", "user"):
        per = [median([getattr(s, what) for s in v]) for v in samples.values()]
        rows.append(f"| shards' {what} time, max/min | {max(per) / min(per):.2f} | | "
                    "union = full compile |")
    return rows


# The scenarios, in the order they run; the keys are --scenario's names.
SCENARIOS: dict[str, Callable[[Bench, int], list[str]]] = {
    "full": full,
    "cold": cold,
    "single": single,
    "single-edit": single_edit,
    "incremental": incremental,
    "git-status": git_status,
    "scale": scale,
    "shard": shard,
}
# Those that run kcompile only: they need no check against kapitan's output first.
KCOMPILE_ONLY = {"incremental", "git-status", "scale", "shard"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=None,
                        help="fleet size (default 200; the heavy shape's own by default)")
    parser.add_argument("--shape", choices=("fleet", "heavy"), default="fleet")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenario", default="full,cold,single,incremental",
                        help=f"comma-separated, from: {', '.join(SCENARIOS)}")
    parser.add_argument("--backend", default=None, help="kcompile's inventory engine")
    parser.add_argument("--kapitan-backend", default=None,
                        help="kapitan's --inventory-backend (reclass-rs is installed beside "
                             "its venv when missing)")
    parser.add_argument("--no-check", action="store_true",
                        help="skip the byte-for-byte check against kapitan (the table says so)")
    parser.add_argument("--scale-factor", type=int, default=10)
    parser.add_argument("--scale-kapitan", action="store_true",
                        help="scale: also time kapitan's cold compile of --targets")
    args = parser.parse_args()
    if args.targets is None and args.shape == "fleet":
        args.targets = 200
    if args.backend:
        KCOMPILE.extend(["--backend", args.backend])
    scenarios = args.scenario.split(",")
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)} (choose from {', '.join(SCENARIOS)})")
    kapitan = ensure_kapitan(Path(os.environ.get("KAPITAN_VENV", REPO / ".kapitan-venv")))
    engine = args.backend or "default"
    size = f"{args.targets} targets" if args.targets else "its own targets"
    lines = [f"## {args.shape} shape, {size} (seed {args.seed}), {args.runs} runs, kcompile "
             f"engine: {engine}, kapitan engine: {args.kapitan_backend or 'default'}, "
             f"{time.strftime('%Y-%m-%d')}", "", f"Machine: {machine()}", ""]
    with tempfile.TemporaryDirectory(prefix="kcompile-bench-") as tmp:
        bench = Bench(Path(tmp), args, kapitan)
        if args.no_check:
            lines.append("Outputs: not compared with kapitan's in this run (--no-check).")
        elif set(scenarios) - KCOMPILE_ONLY or args.scale_kapitan:
            bench.check_identical()
            lines.append("Outputs: byte-identical to kapitan 0.36.3.")
        if "incremental" in scenarios:
            lines.append("Incremental result checked against a clean compile.")
        lines += ["", "| scenario | kcompile | kapitan | result |", "|---|---|---|---|"]
        for name in SCENARIOS:
            if name in scenarios:
                lines.extend(SCENARIOS[name](bench, args.runs))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
