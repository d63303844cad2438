#!/usr/bin/env python3
"""Compile Kapitan's own ``examples/kubernetes`` with kcompile and compare with Kapitan's output.

Downloads the kapitan 0.36.3 sdist from PyPI (``pip download --no-deps
--no-binary :all: kapitan==0.36.3``), unpacks it, copies
``examples/kubernetes`` without its ``compiled/`` to a scratch directory,
runs ``kcompile`` there, and compares every target directory with the
``compiled/`` committed in the sdist, file by file and byte by byte.

Targets with a ``helm`` item are compiled only when a ``helm`` binary is on
PATH (kcompile runs the real helm, and none is installed here); they are
reported as skipped otherwise.

Usage:
    python bench/parity.py                   # download, compile, compare
    python bench/parity.py --sdist FILE      # use an sdist already downloaded

Exit code 0 when every compared target is byte-identical, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

KAPITAN = "kapitan==0.36.3"
EXAMPLE = "examples/kubernetes"


def download_sdist(dest: Path) -> Path:
    """Download the kapitan sdist into ``dest`` with pip; return its path."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--no-binary", ":all:", "-d", str(dest), KAPITAN], check=True)
    found = sorted(dest.glob("kapitan-*.tar.gz"))
    if not found:
        raise SystemExit(f"pip download gave no sdist in {dest}")
    return found[0]


def unpack_example(sdist: Path, dest: Path) -> Path:
    """Unpack ``examples/kubernetes`` from the sdist; return its directory."""
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if f"/{EXAMPLE}/" in m.name]
        tar.extractall(dest, members=members, filter="data")
    (root,) = [p for p in dest.iterdir() if p.is_dir()]
    return root / EXAMPLE


def files_of(directory: Path) -> dict[str, bytes]:
    """Every file below ``directory``, by relative path."""
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def helm_targets(project: Path) -> set[str]:
    """Targets whose inventory (target file or classes) has a helm item, by a text search."""
    classes = project / "inventory" / "classes"
    helm_classes = {str(p.relative_to(classes).with_suffix("")).replace(os.sep, ".")
                    for p in classes.rglob("*.yml") if "input_type: helm" in p.read_text()}
    out = set()
    for target in (project / "inventory" / "targets").glob("*.yml"):
        text = target.read_text()
        if "input_type: helm" in text or any(f"- {c}\n" in text for c in helm_classes):
            out.add(target.stem)
    return out


def kcompile_command() -> list[str]:
    """The kcompile CLI of this interpreter."""
    return [sys.executable, "-m", "kapitan_lite"]


def compare(example: Path, work: Path) -> int:
    """Compile ``example`` in ``work`` and compare per target; return the number of failures."""
    shutil.copytree(example, work, ignore=shutil.ignore_patterns("compiled"))
    targets = sorted(p.stem for p in (work / "inventory" / "targets").glob("*.yml"))
    skipped = helm_targets(work) if shutil.which("helm") is None else set()
    selected = [t for t in targets if t not in skipped]
    proc = subprocess.run([*kcompile_command(), *[a for t in selected for a in ("-t", t)]],
                          cwd=work, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        raise SystemExit(f"kcompile failed with exit code {proc.returncode}")
    expected_root, actual_root = example / "compiled", work / "compiled"
    compared = failures = 0
    for target in targets:
        if target in skipped:
            print(f"  skip  {target} (helm item, and no helm binary on PATH)")
            continue
        expected = files_of(expected_root / target)
        actual = files_of(actual_root / target)
        if not expected and not actual:
            print(f"  none  {target} (no files from either)")
            continue
        compared += 1
        differing = sorted(k for k in expected.keys() & actual.keys() if expected[k] != actual[k])
        missing = sorted(expected.keys() - actual.keys())
        extra = sorted(actual.keys() - expected.keys())
        if differing or missing or extra:
            failures += 1
            print(f"  FAIL  {target}: {len(differing)} differ, {len(missing)} missing, "
                  f"{len(extra)} extra: {(differing + missing + extra)[:5]}")
        else:
            print(f"  ok    {target} ({len(expected)} files byte-identical)")
    print(f"{compared - failures}/{compared} targets byte-identical to Kapitan 0.36.3's "
          f"committed {EXAMPLE}/compiled")
    return failures


def main(argv: list[str] | None = None) -> int:
    """Run the parity check; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist", type=Path, help="a kapitan 0.36.3 sdist already downloaded")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kcompile-parity-") as tmp:
        scratch = Path(tmp)
        sdist = args.sdist or download_sdist(scratch / "dl")
        example = unpack_example(sdist, scratch / "src")
        return 1 if compare(example, scratch / "work") else 0


if __name__ == "__main__":
    sys.exit(main())
