#!/usr/bin/env python3
"""Peak memory of kcompile on one big class file (default 50 MB), against the file's size.

Builds a project in a temporary directory whose only class holds SIZE MB of
services (a mapping of mappings with lists), then runs ``kcompile inventory``
and ``kcompile`` (a template reads one value) and prints each run's peak
resident memory, from the kernel's own accounting of the finished process
(``wait4``), as a multiple of the class file's size. The goal is 10x at most.

Usage:
    python bench/big_class.py [--size 50] [--backend kapitan-lite]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_project(root: Path, size_mb: int) -> Path:
    """The project, with a class file of about ``size_mb`` MB; its path."""
    (root / "inventory/classes").mkdir(parents=True)
    (root / "inventory/targets").mkdir(parents=True)
    (root / "templates").mkdir()
    big = root / "inventory/classes/big.yml"
    with big.open("w") as fp:
        fp.write("parameters:\n  big:\n")
        i = 0
        while fp.tell() < size_mb * 1024 * 1024:
            fp.write(f"    svc{i}:\n      name: service-{i}\n      port: {8000 + i % 1000}\n"
                     f"      enabled: true\n      tags: [a{i % 7}, b{i % 11}, c]\n"
                     f"      image: registry.example.com/team/app-{i}:v1.{i % 50}.0\n")
            i += 1
    (root / "inventory/targets/t.yml").write_text(
        "classes: [big]\nparameters:\n  target_name: t\n  kapitan:\n    vars:\n      target: t\n"
        "    compile:\n      - input_type: jinja2\n        input_paths: [templates/a.yml]\n"
        "        output_path: .\n")
    (root / "templates/a.yml").write_text("n: {{ inventory.parameters.big.svc5.name }}\n")
    return big


def peak_rss(cmd: list[str], cwd: Path) -> tuple[int, float, int]:
    """Run ``cmd``; its exit code, wall seconds and peak RSS in bytes (its children included)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, time.monotonic() - start, usage.ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=50, help="class file size in MB [50]")
    parser.add_argument("--backend", default="kapitan-lite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        big = write_project(root, args.size)
        size = big.stat().st_size
        print(f"class file: {size / 1e6:.1f} MB")
        kcompile = [sys.executable, "-m", "kapitan_lite"]
        for name, extra in (("inventory", ["inventory", "-t", "t"]), ("compile", ["--no-cache"])):
            code, seconds, rss = peak_rss([*kcompile, *extra, "--backend", args.backend], root)
            print(f"kcompile {name}: exit {code}, {seconds:.1f} s, peak RSS {rss / 1e6:.0f} MB "
                  f"= {rss / size:.1f}x the file")


if __name__ == "__main__":
    main()
