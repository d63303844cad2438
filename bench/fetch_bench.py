#!/usr/bin/env python3
"""Time a repeated fetch of an unchanged lock against ``kapitan compile --fetch``.

Generates a project whose targets declare git dependencies (local
repositories served by file://, with a tag, a branch and subdirs) and http
dependencies (a YAML file and a tar.gz, from an HTTP server on 127.0.0.1).
It first fetches the project once with each tool into its own copy and
checks that both wrote the same files (names, bytes, modes). Then it times,
alternately, over the rounds:

- ``kcompile fetch`` with ``kcompile.lock`` written and the cache warm;
- ``kcompile --fetch`` (fetch, then a compile the incremental cache answers);
- ``kapitan compile --fetch`` (Kapitan clones and downloads everything again);

and reports the median wall and CPU time of each (CPU: user + system of the
command and its children), plus one cold ``kcompile fetch`` (empty cache).

Usage:
    python bench/fetch_bench.py [--repos 4] [--files 40] [--rounds 5] [--kapitan PATH]
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
sys.path.insert(0, str(REPO / "tests"))
from fetch_support import GitRepo, http_server, tar_gz, write_project  # noqa: E402

KCOMPILE = [sys.executable, "-m", "kapitan_lite"]


def build(root: Path, repos: int, files: int, base_url: str, srv) -> Path:
    """The upstream repositories and HTTP files, and a project of three targets using them."""
    deps = []
    for r in range(repos):
        repo = GitRepo(root / "upstream" / f"repo{r}")
        repo.commit({f"lib/f{i}.yml": f"repo: {r}\nfile: {i}\n" for i in range(files)}
                    | {"README.md": f"repo {r}\n", ".gitignore": "*.pyc\n"})
        repo.tag("v1")
        repo.branch("dev")
        repo.commit({"lib/dev.yml": "dev: true\n"})
        repo.checkout("main")
        ref = ("v1", "dev", None)[r % 3]
        dep = {"type": "git", "source": repo.url, "output_path": f"vendor/repo{r}"}
        if ref:
            dep["ref"] = ref
        if r % 2 == 0:
            dep["subdir"] = "lib"
        deps.append(dep)
    srv.serve("/crd.yaml", "kind: CustomResourceDefinition\n", "application/x-yaml")
    srv.serve("/bundle.tar.gz", tar_gz({f"bundle/m{i}.yml": f"m: {i}\n" for i in range(files)}),
              "application/gzip")
    deps.append({"type": "http", "source": f"{base_url}/crd.yaml", "output_path": "vendor/crd.yaml"})
    deps.append({"type": "http", "source": f"{base_url}/bundle.tar.gz", "unpack": True,
                 "output_path": "vendor/bundle"})
    first = "vendor/repo0/f0.yml"
    item = {"input_type": "jinja2", "input_paths": [first], "output_path": "."}
    # Three targets sharing the dependencies: each source is fetched once per run.
    targets = {"alpha": deps, "beta": deps[: repos // 2 + 1], "gamma": deps[repos // 2:]}
    items = {name: [item] if first in {d["output_path"] + "/f0.yml" for d in t} else []
             for name, t in targets.items()}
    return write_project(root / "project", targets, compile_items=items)


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file below ``root``: bytes and permission bits."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            out[str(path.relative_to(root))] = (path.read_bytes(), path.stat().st_mode & 0o777)
    return out


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Run ``cmd``; its wall time and CPU time (children included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout}{proc.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repos", type=int, default=4, help="git dependencies [4]")
    ap.add_argument("--files", type=int, default=40, help="files per repository and archive [40]")
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds [5]")
    ap.add_argument("--kapitan", default=os.environ.get("KAPITAN", "kapitan"),
                    help="the kapitan executable [$KAPITAN or kapitan]")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fetch-bench-"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "KCOMPILE_CACHE_DIR": str(tmp / "cache")}
    try:
        with http_server() as srv:
            project = build(tmp, args.repos, args.files, srv.base, srv)
            ours, theirs = tmp / "ours", tmp / "theirs"
            shutil.copytree(project, ours)
            shutil.copytree(project, theirs)
            cold = run([*KCOMPILE, "fetch"], ours, env)
            run([args.kapitan, "compile", "--fetch"], theirs, env)
            a, b = tree(ours / "vendor"), tree(theirs / "vendor")
            if a != b:
                only = sorted(set(a) ^ set(b))[:5]
                diff = sorted(k for k in set(a) & set(b) if a[k] != b[k])[:5]
                sys.exit(f"fetched files differ: only one side {only}, different {diff}")
            print(f"same fetched files: {len(a)} files under vendor/ "
                  f"({args.repos} git + 2 http dependencies, 3 targets)")
            run([*KCOMPILE, "--fetch"], ours, env)  # fill the compile cache
            cmds = {
                "kcompile fetch (lock unchanged)": [*KCOMPILE, "fetch"],
                "kcompile --fetch": [*KCOMPILE, "--fetch"],
                "kapitan compile --fetch": [args.kapitan, "compile", "--fetch"],
            }
            times: dict[str, list[tuple[float, float]]] = {k: [] for k in cmds}
            for _ in range(args.rounds):
                for name, cmd in cmds.items():
                    times[name].append(run(cmd, theirs if name.startswith("kapitan") else ours,
                                           env))
        print(f"cold kcompile fetch (empty cache): wall {cold[0]:.3f}s, cpu {cold[1]:.3f}s")
        print(f"medians over {args.rounds} rounds:")
        base = statistics.median(w for w, _ in times["kapitan compile --fetch"])
        for name, values in times.items():
            wall = statistics.median(w for w, _ in values)
            cpu = statistics.median(c for _, c in values)
            print(f"  {name:34s} wall {wall:.3f}s  cpu {cpu:.3f}s  ({base / wall:.1f}x faster "
                  "than kapitan)" if not name.startswith("kapitan") else
                  f"  {name:34s} wall {wall:.3f}s  cpu {cpu:.3f}s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
