#!/usr/bin/env python3
"""Record what Kapitan 0.36.3 compiles for a generated bench corpus.

Generates a corpus with ``gen_inventory.py`` (``bench/gen_inventory.py``),
compiles it with ``kapitan compile`` in a side venv (never a dependency of
ours), and writes a manifest of the output: one line per directory
(``dir <path>``) and per file (``<sha256> <mode> <path>``). The test
``tests/test_corpus_parity.py`` compiles the same corpus with kcompile and
compares it with this manifest.

Usage:
    python bench/corpus_parity.py [--targets 200] [--seed 42] [--gen PATH]
    KAPITAN_VENV=/path/to/venv python bench/corpus_parity.py
"""

from __future__ import annotations

import argparse
import hashlib
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "golden"))
from regen import ensure_kapitan, kapitan_env  # noqa: E402


def default_gen() -> Path:
    """The fleet generator, ``bench/gen_inventory.py`` (``$KCOMPILE_GEN_INVENTORY`` wins)."""
    env = os.environ.get("KCOMPILE_GEN_INVENTORY")
    return Path(env) if env else REPO / "bench" / "gen_inventory.py"


def manifest_path(targets: int, seed: int) -> Path:
    """Where the manifest of a corpus lives."""
    return REPO / "tests" / "data" / f"corpus-{targets}-seed{seed}.manifest"


def tree_manifest(root: Path) -> list[str]:
    """``dir <path>`` and ``<sha256> <mode> <path>`` lines for everything under ``root``."""
    lines = []
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            lines.append(f"dir {Path(dirpath, d).relative_to(root).as_posix()}")
        for f in filenames:
            p = Path(dirpath, f)
            digest = hashlib.sha256(p.read_bytes()).hexdigest()
            mode = stat.S_IMODE(p.stat().st_mode)
            lines.append(f"{digest} {mode:04o} {p.relative_to(root).as_posix()}")
    return sorted(lines, key=lambda line: line.rsplit(" ", 1)[-1])


def generate(gen: Path, targets: int, seed: int, out: Path) -> None:
    """Write a corpus with ``bench/gen_inventory.py``."""
    subprocess.run([sys.executable, str(gen), "--targets", str(targets), "--seed", str(seed),
                    "--out", str(out)], check=True, capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--gen", type=Path, default=default_gen())
    args = parser.parse_args()
    venv = Path(os.environ.get("KAPITAN_VENV", REPO / ".kapitan-venv"))
    kapitan = ensure_kapitan(venv)
    with tempfile.TemporaryDirectory(prefix="corpus-parity-") as tmp:
        corpus = Path(tmp) / "corpus"
        generate(args.gen, args.targets, args.seed, corpus)
        subprocess.run([str(kapitan), "compile"], cwd=corpus, env=kapitan_env(), check=True,
                       capture_output=True)
        lines = tree_manifest(corpus / "compiled")
    out = manifest_path(args.targets, args.seed)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out} ({len(lines)} entries)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
