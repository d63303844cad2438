#!/usr/bin/env python3
"""Compile Kapitan 0.36.3's own examples and test resources with kcompile and compare with Kapitan.

Downloads the kapitan 0.36.3 sdist from PyPI (``pip download --no-deps
--no-binary :all: kapitan==0.36.3``) and unpacks it. Then:

- ``examples/kubernetes``, ``examples/terraform`` and ``examples/docker``
  are copied without their ``compiled/`` to a scratch directory, compiled
  with ``kcompile``, and every target directory is compared, file by file
  and byte by byte, with the ``compiled/`` committed in the sdist;
- ``tests/test_resources`` (whose committed ``compiled/`` is stale) is
  compiled by real Kapitan (``--kapitan``, default ``$KAPITAN_VENV/bin/kapitan``)
  to find the targets Kapitan itself compiles, and by ``kcompile``; every
  such target is compared the same way. Skipped when no kapitan is found.

Targets that need the ``helm`` binary are compiled only when one is on
PATH (Kapitan and kcompile both run the real helm); they are reported as
skipped otherwise.

Usage:
    python bench/parity.py                   # download, compile, compare
    python bench/parity.py --sdist FILE      # use an sdist already downloaded
    python bench/parity.py --kapitan PATH    # the kapitan to compile test_resources with

Exit code 0 when every compared target is byte-identical, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

KAPITAN = "kapitan==0.36.3"
EXAMPLES = ("examples/kubernetes", "examples/terraform", "examples/docker")
RESOURCES = "tests/test_resources"
REPO = Path(__file__).resolve().parent.parent


def download_sdist(dest: Path) -> Path:
    """Download the kapitan sdist into ``dest`` with pip; return its path."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--no-binary", ":all:", "-d", str(dest), KAPITAN], check=True)
    found = sorted(dest.glob("kapitan-*.tar.gz"))
    if not found:
        raise SystemExit(f"pip download gave no sdist in {dest}")
    return found[0]


def unpack(sdist: Path, dest: Path) -> Path:
    """Unpack the examples and test resources from the sdist; return the sdist's root."""
    wanted = (*EXAMPLES, RESOURCES)
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if any(f"/{w}/" in m.name for w in wanted)]
        tar.extractall(dest, members=members, filter="data")
    (root,) = [p for p in dest.iterdir() if p.is_dir()]
    return root


def files_of(directory: Path) -> dict[str, bytes]:
    """Every file below ``directory``, by relative path."""
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def target_names(project: Path) -> list[str]:
    """The project's targets: the stems of the files below ``inventory/targets``."""
    return sorted(p.stem for p in (project / "inventory" / "targets").rglob("*.y*ml"))


def helm_targets(project: Path) -> set[str]:
    """Targets whose inventory (target file or classes) has a helm item, by a text search."""
    classes = project / "inventory" / "classes"
    helm_classes = {str(p.relative_to(classes).with_suffix("")).replace(os.sep, ".")
                    for p in classes.rglob("*.yml") if "input_type: helm" in p.read_text()}
    out = set()
    for target in (project / "inventory" / "targets").rglob("*.yml"):
        text = target.read_text()
        if "input_type: helm" in text or any(f"- {c}\n" in text for c in helm_classes):
            out.add(target.stem)
    return out


def kcompile(work: Path, targets: list[str]) -> None:
    """Compile ``targets`` with this checkout's kcompile in ``work``."""
    proc = subprocess.run([sys.executable, "-m", "kapitan_lite",
                           *[a for t in targets for a in ("-t", t)]],
                          cwd=work, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        raise SystemExit(f"kcompile failed in {work} with exit code {proc.returncode}")


def compare_targets(expected_root: Path, actual_root: Path, targets: list[str]) -> tuple[int, int]:
    """Compare each target's output; print a line each; return (compared, failures)."""
    compared = failures = 0
    for target in targets:
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
    return compared, failures


def compare_example(example: Path, work: Path, name: str) -> int:
    """Compile an example in ``work`` and compare it with its committed output; return failures."""
    shutil.copytree(example, work, ignore=shutil.ignore_patterns("compiled"))
    targets = target_names(work)
    skipped = helm_targets(work) if shutil.which("helm") is None else set()
    for target in sorted(skipped):
        print(f"  skip  {target} (helm item, and no helm binary on PATH)")
    selected = [t for t in targets if t not in skipped]
    kcompile(work, selected)
    compared, failures = compare_targets(example / "compiled", work / "compiled", selected)
    print(f"{name}: {compared - failures}/{compared} targets byte-identical to Kapitan 0.36.3's "
          f"committed compiled/")
    return failures


def kapitan_compiles(kapitan: Path, work: Path, targets: list[str]) -> dict[str, str]:
    """Compile ``targets`` with Kapitan, leaving out the ones it fails on; return those, with why.

    Kapitan stops a run at the first target that fails: run again without
    the targets it named until a run succeeds.
    """
    failed: dict[str, str] = {}
    while True:
        todo = [t for t in targets if t not in failed]
        if not todo:
            break
        shutil.rmtree(work / "compiled", ignore_errors=True)
        proc = subprocess.run([str(kapitan), "compile", "-t", *todo], cwd=work,
                              capture_output=True, text=True)
        if proc.returncode == 0:
            break
        named = dict(re.findall(r"^Error compiling (\S+): (.*)$", proc.stdout + proc.stderr,
                                re.MULTILINE))
        named = {t: why for t, why in named.items() if t in todo}
        if not named:
            print(proc.stdout[-2000:] + proc.stderr[-2000:], file=sys.stderr)
            raise SystemExit("kapitan failed without naming a target")
        failed.update(named)
    # A target with continue_on_compile_error is named in the log of a run that
    # another target failed: try the others alone (helm ones need no retry).
    for target in [t for t, why in failed.items() if "helm binary not found" not in why]:
        if subprocess.run([str(kapitan), "compile", "-t", target], cwd=work,
                          capture_output=True).returncode == 0:
            del failed[target]
    return failed


def compare_resources(src: Path, work: Path, kapitan: Path) -> int:
    """Compile test_resources with Kapitan and kcompile and compare what Kapitan compiles."""
    theirs, ours = work / "kapitan", work / "kcompile"
    for dest in (theirs, ours):
        shutil.copytree(src, dest, ignore=shutil.ignore_patterns("compiled"))
    targets = target_names(theirs)
    no_helm = helm_targets(theirs) if shutil.which("helm") is None else set()
    for target in sorted(no_helm):
        print(f"  skip  {target} (helm item, and no helm binary on PATH)")
    failed = kapitan_compiles(kapitan, theirs, [t for t in targets if t not in no_helm])
    for target, why in sorted(failed.items()):
        print(f"  skip  {target} (kapitan fails: {why.strip()[:100]})")
    selected = [t for t in targets if t not in failed and t not in no_helm]
    kcompile(ours, selected)
    compared, failures = compare_targets(theirs / "compiled", ours / "compiled", selected)
    print(f"{RESOURCES}: {compared - failures}/{compared} targets byte-identical to Kapitan "
          f"0.36.3's (kapitan compiles {len(selected)} of {len(targets)} here)")
    return failures


def default_kapitan() -> Path:
    """``$KAPITAN_VENV/bin/kapitan``, else the repository's ``.kapitan-venv``."""
    return Path(os.environ.get("KAPITAN_VENV", REPO / ".kapitan-venv")) / "bin" / "kapitan"


def main(argv: list[str] | None = None) -> int:
    """Run the parity check; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist", type=Path, help="a kapitan 0.36.3 sdist already downloaded")
    parser.add_argument("--kapitan", type=Path, default=default_kapitan(),
                        help="kapitan 0.36.3 executable, for tests/test_resources")
    args = parser.parse_args(argv)
    failures = 0
    with tempfile.TemporaryDirectory(prefix="kcompile-parity-") as tmp:
        scratch = Path(tmp)
        sdist = args.sdist or download_sdist(scratch / "dl")
        root = unpack(sdist, scratch / "src")
        for example in EXAMPLES:
            print(f"{example}:")
            failures += compare_example(root / example, scratch / example, example)
        if args.kapitan.exists():
            print(f"{RESOURCES}:")
            failures += compare_resources(root / RESOURCES, scratch / "resources", args.kapitan)
        else:
            print(f"{RESOURCES}: skipped (no kapitan at {args.kapitan}; set KAPITAN_VENV)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
