#!/usr/bin/env python3
"""Time the fast YAML writer against PyYAML (Kapitan's dumper configuration) on a corpus.

Generates a corpus with ``bench/gen_inventory.py``, then:

* ``inventory``: the resolved inventory of every target (what ``kcompile
  inventory`` prints) with ``dump_inventory_yaml`` and its PyYAML reference;
* ``manifests`` (fleet shape): ``kcompile`` the corpus, load every compiled
  ``*.yml`` (Kubernetes manifests) and write each file's documents back with
  ``dump_yaml`` for every multi-line style (indent 2 and 4, null-as-empty on
  and off), one call per file as a compile does.

Each case checks that both give the same bytes, then reports the PyYAML time
(one run) and the fast time (best of ``--repeat``).

Usage:
  python bench/yaml_emitter.py --targets 200
  python bench/yaml_emitter.py --shape heavy --targets 56 --limit 5
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from kapitan_lite import outputs
from kapitan_lite.inventory import Inventory

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus_parity import default_gen


def timed(fn: Callable[[], Any], repeat: int) -> tuple[Any, float]:
    """The result of ``fn`` and its best wall time over ``repeat`` runs."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def case(name: str, reference: Callable[[], str | list[str]],
         fast: Callable[[], str | list[str]], repeat: int) -> None:
    """Time one case and print a line; exit 1 if the bytes differ."""
    expected, slow_s = timed(reference, 1)
    got, fast_s = timed(fast, repeat)
    size = len(expected) if isinstance(expected, str) else sum(map(len, expected))
    same = "same bytes" if got == expected else "DIFFERENT BYTES"
    print(f"{name:48} PyYAML {slow_s:7.2f} s   fast {fast_s:6.3f} s   "
          f"x{slow_s / fast_s:5.1f}   {size / 1e6:6.2f} MB   {same}", flush=True)
    if got != expected:
        sys.exit(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=["fleet", "heavy"], default="fleet")
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--limit", type=int, default=0,
                        help="dump only the first N resolved targets (0: all)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--gen", type=Path, default=default_gen())
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-yaml-") as tmp:
        corpus = Path(tmp) / "corpus"
        subprocess.run([sys.executable, str(args.gen), "--shape", args.shape, "--targets",
                        str(args.targets), "--seed", str(args.seed), "--out", str(corpus)],
                       check=True, capture_output=True)
        inventory = Inventory(str(corpus / "inventory"), "reclass-rs").resolve_all()
        if args.limit:
            inventory = dict(list(inventory.items())[:args.limit])
        case(f"inventory ({len(inventory)} targets)",
             lambda: outputs.dump_inventory_yaml_reference(inventory),
             lambda: outputs.dump_inventory_yaml(inventory), args.repeat)
        if args.shape != "fleet":
            return 0
        kcompile = Path(sys.executable).with_name("kcompile")
        subprocess.run([str(kcompile)], cwd=corpus, check=True, capture_output=True)
        files = []
        for path in sorted((corpus / "compiled").rglob("*.yml")):
            with open(path) as fp:
                files.append([doc for doc in yaml.safe_load_all(fp) if doc is not None])
        for style, indent, null in (("literal", 2, False), ("double-quotes", 2, False),
                                    ("folded", 4, True), (None, 4, False)):
            case(f"manifests ({len(files)} files) {style}, indent {indent}"
                 + (", null empty" if null else ""),
                 lambda s=style, i=indent, n=null: [
                     outputs.dump_yaml_reference(d, i, s, n) for d in files],
                 lambda s=style, i=indent, n=null: [
                     outputs.dump_yaml(d, i, s, n) for d in files], args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
