#!/usr/bin/env python3
"""Inventory engines side by side: wall time and peak memory, each in a fresh process.

For one corpus (generated with ``bench/gen_inventory.py`` or given with
``--corpus``) it runs, each under ``/usr/bin/time -v``:

* ``kcompile inventory --format json`` with the native engine (``kapitan-lite``);
* kapicorp-reclass driven in-process as Kapitan drives it
  (``Core.inventory()``, then every node's parameters, classes, applications, exports);
* reclass-rs driven in-process as Kapitan drives it (``Reclass.inventory().nodes``);
* with ``--commands``, also ``kcompile inventory --format json --backend reclass|reclass-rs``.

``--check`` also compares the native engine's output with kapicorp-reclass's,
node by node. Public tools only: Python, PyYAML, the two engines, GNU time.

Usage:
    python bench/engines.py --targets 1000 [--shape fleet|heavy] [--runs 1] [--check]
    python bench/engines.py --corpus DIR
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def default_gen() -> Path:
    """The fleet generator, ``bench/gen_inventory.py`` (``$KCOMPILE_GEN_INVENTORY`` wins)."""
    env = os.environ.get("KCOMPILE_GEN_INVENTORY")
    return Path(env) if env else REPO / "bench" / "gen_inventory.py"


def drive(engine: str, root: str) -> None:
    """Render every node of ``root/inventory`` the way Kapitan drives ``engine``."""
    sys.path.insert(0, str(REPO))
    from kapitan_lite.inventory.config import absolute_uri, load_reclass_config

    inv = os.path.join(root, "inventory")
    cfg = load_reclass_config(inv)
    if engine == "reclass":
        import reclass
        import reclass.core
        import reclass.settings

        for key in ("nodes_uri", "classes_uri"):
            cfg[key] = absolute_uri(inv, cfg[key])
        storage = reclass.get_storage(cfg["storage_type"], cfg["nodes_uri"], cfg["classes_uri"],
                                      cfg["compose_node_name"])
        core = reclass.core.Core(storage, cfg.get("class_mappings"), reclass.settings.Settings(cfg))
        nodes = core.inventory()["nodes"]
        out = {n: {k: v[k] for k in ("parameters", "classes", "applications", "exports")}
               for n, v in nodes.items()}
    else:
        import reclass_rs

        r = reclass_rs.Reclass.from_config(reclass_rs.Config.from_dict(inv, dict(cfg), False))
        out = {n: {"parameters": v.parameters, "classes": v.classes,
                   "applications": v.applications, "exports": v.exports}
               for n, v in r.inventory().nodes.items()}
    print(len(out), file=sys.stderr)


def timed(cmd: list[str], cwd: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one fresh process, from GNU time."""
    res = subprocess.run(["/usr/bin/time", "-v", *cmd], cwd=cwd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stderr[-2000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", res.stderr)
    h, m, s = wall.groups()
    seconds = int(h or 0) * 3600 + int(m) * 60 + float(s)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", res.stderr).group(1))
    return seconds, rss / 1024


def check(root: str) -> int:
    """Nodes where the native engine and kapicorp-reclass disagree (0 = all agree)."""
    sys.path.insert(0, str(REPO))
    from kapitan_lite.inventory.config import load_reclass_config
    from kapitan_lite.inventory.engine import make_engine

    inv = os.path.join(root, "inventory")
    cfg = load_reclass_config(inv)
    native = make_engine("kapitan-lite", inv, cfg)
    reference = make_engine("reclass", inv, cfg)
    bad = 0
    for name in native.targets:
        want = reference.render(name)
        got = native.render(name)
        keys = ("parameters", "classes", "applications", "exports")
        if json.dumps([got[k] for k in keys], default=str) != json.dumps(
                [want[k] for k in keys], default=str):  # key order included
            bad += 1
            print(f"  differs: {name}")
    return bad


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--shape", default="fleet", choices=["fleet", "heavy"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--corpus", help="an existing project (with inventory/)")
    parser.add_argument("--runs", type=int, default=1, help="runs per engine (best is kept)")
    parser.add_argument("--engines", default="kapitan-lite,reclass,reclass-rs")
    parser.add_argument("--commands", action="store_true",
                        help="also time kcompile inventory with --backend reclass/reclass-rs")
    parser.add_argument("--check", action="store_true", help="compare outputs with reclass")
    parser.add_argument("--drive", nargs=2, metavar=("ENGINE", "ROOT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        drive(*args.drive)
        return 0
    with tempfile.TemporaryDirectory(prefix="engines-") as tmp:
        root = args.corpus
        if root is None:
            root = os.path.join(tmp, "corpus")
            cmd = [sys.executable, str(default_gen()), "--shape", args.shape, "--seed",
                   str(args.seed), "--out", root]
            if args.shape == "fleet" or args.targets != 1000:
                cmd += ["--targets", str(args.targets)]
            subprocess.run(cmd, check=True, capture_output=True)
        kcompile = str(VENV_BIN / "kcompile")
        runs: dict[str, list[str]] = {
            "kapitan-lite (kcompile inventory --format json)":
                [kcompile, "inventory", "--format", "json", "--backend", "kapitan-lite"],
            "reclass (in-process, as Kapitan)": [sys.executable, __file__, "--drive", "reclass", root],
            "reclass-rs (in-process, as Kapitan)":
                [sys.executable, __file__, "--drive", "reclass-rs", root],
        }
        if args.commands:
            for b in ("reclass", "reclass-rs"):
                runs[f"{b} (kcompile inventory --format json)"] = [
                    kcompile, "inventory", "--format", "json", "--backend", b]
        wanted = args.engines.split(",")
        results = {}
        for label, cmd in runs.items():
            if not any(label.startswith(w + " ") for w in wanted):
                continue
            best = min((timed(cmd, root) for _ in range(args.runs)), key=lambda r: r[0])
            results[label] = best
            print(f"{label:55s} {best[0]:8.2f} s {best[1]:8.0f} MiB", flush=True)
        native = results.get("kapitan-lite (kcompile inventory --format json)")
        others = [v for k, v in results.items() if "in-process" in k]
        if native and others:
            fastest = min(o[0] for o in others)
            memory = ", ".join(f"{k.split()[0]} {v[1]:.0f} MiB" for k, v in results.items()
                               if "in-process" in k)
            print(f"speed-up over the faster of the others: {fastest / native[0]:.2f}x; "
                  f"peak memory {native[1]:.0f} MiB (against {memory})")
        if args.check:
            bad = check(root)
            print(f"check: {'all nodes agree' if not bad else f'{bad} nodes differ'}")
            return 1 if bad else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
