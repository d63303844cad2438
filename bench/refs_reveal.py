#!/usr/bin/env python3
"""Measure ``compile --reveal`` on 100 gpg refs used by 50 targets.

Builds the project in a temporary directory with a fresh gpg key, creates the
refs with a first (tag-only) compile, then times ``kcompile --reveal`` and,
when kapitan 0.36.3 is installed, ``kapitan compile --reveal`` on the same
project. A logging ``gpg`` wrapper first on PATH counts real decryptions.

Usage:
    python bench/refs_reveal.py [--refs 100] [--targets 50] [-p 2]
    KAPITAN_VENV=/path/to/venv python bench/refs_reveal.py
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KAPITAN = Path(os.environ.get("KAPITAN_VENV", Path(__file__).resolve().parent.parent / ".kapitan-venv")) / "bin" / "kapitan"


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Run a command; seconds it took."""
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refs", type=int, default=100)
    parser.add_argument("--targets", type=int, default=50)
    parser.add_argument("-p", "--parallelism", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        home = tmp / "gnupg"
        home.mkdir(mode=0o700)
        bindir = tmp / "bin"
        bindir.mkdir()
        log = tmp / "gpg.log"
        real = shutil.which("gpg")
        if real is None:
            sys.exit("gpg is not installed")
        (bindir / "gpg").write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {real} "$@"\n')
        (bindir / "gpg").chmod(0o755)
        env = {**os.environ, "GNUPGHOME": str(home),
               "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
        subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key",
                        "bench <bench@example.com>", "future-default", "default", "never"],
                       env=env, check=True, capture_output=True)
        project = tmp / "project"
        (project / "inventory/classes").mkdir(parents=True)
        (project / "inventory/targets").mkdir(parents=True)
        (project / "templates").mkdir()
        refs = "".join(f"    s{i:03d}: ?{{gpg:shared/s{i:03d}||random:str:12}}\n"
                       for i in range(args.refs))
        (project / "inventory/classes/common.yml").write_text(
            "parameters:\n  target_name: ${_reclass_:name:short}\n  kapitan:\n"
            "    vars:\n      target: ${target_name}\n"
            "    secrets:\n      gpg:\n        recipients:\n"
            "          - name: bench@example.com\n"
            "    compile:\n      - input_type: jinja2\n        input_paths: [templates]\n"
            "        output_path: .\n"
            f"  secrets:\n{refs}")
        for t in range(args.targets):
            (project / f"inventory/targets/t{t:02d}.yml").write_text("classes: [common]\n")
        (project / "templates/secrets.txt").write_text(
            "{% for k, v in inventory.parameters.secrets | dictsort %}{{ k }}={{ v }}\n"
            "{% endfor %}")
        kcompile = [sys.executable, "-m", "kapitan_lite", "-p", str(args.parallelism)]
        env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
        run(kcompile, project, env)  # creates the refs
        log.unlink(missing_ok=True)
        seconds = run([*kcompile, "--reveal", "--output-path", "out"], project, env)
        decrypts = sum("--decrypt" in ln for ln in log.read_text().splitlines())
        print(f"kcompile --reveal: {args.targets} targets x {args.refs} gpg refs, "
              f"-p {args.parallelism}: {seconds:.2f}s, {decrypts} gpg decryptions")
        if KAPITAN.exists():
            # Kapitan asks for trusted keys; ours is (it made it), so it can decrypt too.
            log.unlink(missing_ok=True)
            seconds = run([str(KAPITAN), "compile", "--reveal", "-p", str(args.parallelism),
                           "--output-path", "kout"], project, env)
            decrypts = sum("--decrypt" in ln for ln in log.read_text().splitlines())
            print(f"kapitan compile --reveal (0.36.3), same project: {seconds:.2f}s, "
                  f"{decrypts} gpg decryptions")
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, check=False)


if __name__ == "__main__":
    main()
