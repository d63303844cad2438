#!/usr/bin/env python3
"""Regenerate the golden outputs under tests/golden/expected/ with real Kapitan.

For every project in tests/golden/projects/<name>/ (or only the names given on
the command line) this script:

1. makes sure a side virtualenv (``$KAPITAN_VENV``, default ``<repo>/.kapitan-venv``)
   has ``kapitan==0.36.3`` installed, creating it with ``python -m venv`` and
   ``pip install`` if needed;
2. copies the project to a temporary directory (file modes normalised to what a
   git checkout gives: 0755 for executables, 0644 otherwise) and runs
   ``kapitan compile`` there, twice in two fresh copies, failing if the two
   outputs differ (every golden project must be deterministic);
3. replaces tests/golden/expected/<name>/compiled/ with the result and writes
   tests/golden/expected/<name>/manifest.json, which lists every file (mode,
   size, sha256) and every directory, including empty ones that git can't store;
4. for the projects listed in SELECTIONS, runs ``kapitan compile`` again with
   ``-t``/``-l`` arguments, starting from an empty compiled/, checks that
   exactly the expected target directories were produced with the same bytes
   as the full compile, and records them in expected/<name>/selections.json.

Only public tools are used: python, venv and pip. Projects named ``*_helm``
render charts with the helm binary: put one on PATH (``.ci/run`` installs it).
Projects named ``*_kustomize`` and ``*_cuelang`` run ``kustomize`` and ``cue``:
this script puts the wrappers of ``tests/tool_wrappers.py`` first on Kapitan's
PATH (``kustomize`` around ``kubectl kustomize``, ``cue`` the WebAssembly cue
that ``.ci/run`` installs), so Kapitan and the tests run the same tools.

Usage:
    python tests/golden/regen.py                 # all projects
    python tests/golden/regen.py basics refs     # some projects
    KAPITAN_VENV=/path/to/venv python tests/golden/regen.py
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

KAPITAN_VERSION = "0.36.3"

GOLDEN_DIR = Path(__file__).resolve().parent
PROJECTS_DIR = GOLDEN_DIR / "projects"
EXPECTED_DIR = GOLDEN_DIR / "expected"
REPO_ROOT = GOLDEN_DIR.parent.parent

# Files and directories of a project that are never part of its input.
IGNORED_NAMES = ("compiled", "__pycache__", ".pytest_cache")

# Extra compile runs with target selection. Each entry: (CLI arguments after
# "compile", target output directories that must be produced, relative to compiled/).
SELECTIONS: dict[str, list[tuple[list[str], list[str]]]] = {
    "basics": [
        (["-t", "alpha"], ["alpha"]),
        (["-t", "my.dotted"], ["my/dotted"]),
        (["-t", "beta", "gamma"], ["beta", "gamma"]),
    ],
    "class_wildcards": [
        (["-t", "nested"], ["nested"]),
    ],
    "labels": [
        (["-l", "env=prod"], ["prod-db", "prod-web"]),
        (["-l", "env=prod", "team=web"], ["prod-web"]),
        (["-l", "team=web"], ["dev-web", "prod-web"]),
    ],
}


def log(msg: str) -> None:
    print(f"[regen] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- venv


def venv_bin(venv: Path, name: str) -> Path:
    sub = "Scripts" if os.name == "nt" else "bin"
    suffix = ".exe" if os.name == "nt" else ""
    return venv / sub / f"{name}{suffix}"


def installed_kapitan_version(venv: Path) -> str | None:
    exe = venv_bin(venv, "kapitan")
    if not exe.exists():
        return None
    try:
        out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=120)
    except OSError:
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or out.stderr.strip()


def ensure_kapitan(venv: Path) -> Path:
    """Return the kapitan executable of `venv`, installing kapitan if needed."""
    version = installed_kapitan_version(venv)
    if version == KAPITAN_VERSION:
        log(f"using kapitan {version} from {venv}")
        return venv_bin(venv, "kapitan")
    if version is not None:
        log(f"{venv} has kapitan {version!r}, installing {KAPITAN_VERSION}")
    if not venv_bin(venv, "python").exists():
        log(f"creating virtualenv {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    log(f"installing kapitan=={KAPITAN_VERSION} into {venv}")
    subprocess.run(
        [str(venv_bin(venv, "python")), "-m", "pip", "install", "--upgrade", "pip"],
        check=True,
    )
    subprocess.run(
        [
            str(venv_bin(venv, "python")),
            "-m",
            "pip",
            "install",
            f"kapitan=={KAPITAN_VERSION}",
        ],
        check=True,
    )
    version = installed_kapitan_version(venv)
    if version != KAPITAN_VERSION:
        raise SystemExit(f"kapitan in {venv} reports version {version!r}")
    return venv_bin(venv, "kapitan")


# ----------------------------------------------------------------------- projects


def copy_project(src: Path, dst: Path) -> None:
    """Copy a project, normalising modes as a git checkout would (0755/0644)."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(*IGNORED_NAMES))
    for root, dirs, files in os.walk(dst):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
        for f in files:
            p = os.path.join(root, f)
            mode = stat.S_IMODE(os.lstat(p).st_mode)
            os.chmod(p, 0o755 if mode & stat.S_IXUSR else 0o644)


def kapitan_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "TZ": "UTC",
            "LC_ALL": "C.UTF-8",
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
        }
    )
    env.pop("PYTHONPATH", None)
    return env


def run_kapitan(kapitan: Path, cwd: Path, args: list[str]) -> None:
    cmd = [str(kapitan), "compile", *args]
    proc = subprocess.run(
        cmd, cwd=cwd, env=kapitan_env(), capture_output=True, text=True, timeout=600
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout)
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"`{' '.join(cmd)}` failed in {cwd} (exit {proc.returncode})")


def scan_tree(root: Path) -> list[dict]:
    """Every directory and file under root (root itself excluded), sorted by path."""
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for d in dirnames:
            p = Path(dirpath, d)
            if p.is_symlink():
                raise SystemExit(f"unexpected symlink in output: {p}")
            entries.append({"path": p.relative_to(root).as_posix(), "type": "dir"})
        for f in sorted(filenames):
            p = Path(dirpath, f)
            if p.is_symlink():
                raise SystemExit(f"unexpected symlink in output: {p}")
            data = p.read_bytes()
            entries.append(
                {
                    "path": p.relative_to(root).as_posix(),
                    "type": "file",
                    "mode": f"{stat.S_IMODE(p.stat().st_mode):04o}",
                    "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
            )
    entries.sort(key=lambda e: e["path"])
    return entries


def compile_in_copy(kapitan: Path, project: Path, args: list[str], keep: Path | None):
    """Compile a fresh copy of project; return (entries, compiled dir copy or None)."""
    with tempfile.TemporaryDirectory(prefix=f"golden-{project.name}-") as tmp:
        work = Path(tmp) / project.name
        copy_project(project, work)
        run_kapitan(kapitan, work, args)
        compiled = work / "compiled"
        if not compiled.is_dir():
            raise SystemExit(f"{project.name}: kapitan produced no compiled/ directory")
        entries = scan_tree(compiled)
        if keep is not None:
            if keep.exists():
                shutil.rmtree(keep)
            keep.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(compiled, keep, symlinks=True)
            # copytree keeps file modes; make sure they really match the scan
            if scan_tree(keep) != entries:
                raise SystemExit(f"{project.name}: copying the output changed it")
        return entries


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def regen_project(kapitan: Path, project: Path) -> None:
    name = project.name
    log(f"{name}: compiling")
    out_dir = EXPECTED_DIR / name
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = compile_in_copy(kapitan, project, [], keep=out_dir / "compiled")
    again = compile_in_copy(kapitan, project, [], keep=None)
    if again != entries:
        raise SystemExit(f"{name}: two compiles gave different output (not deterministic)")
    manifest = {
        "kapitan_version": KAPITAN_VERSION,
        "command": "kapitan compile",
        "entries": entries,
    }
    write_json(out_dir / "manifest.json", manifest)
    files = sum(1 for e in entries if e["type"] == "file")
    log(f"{name}: {files} files, {len(entries) - files} directories")

    sel_file = out_dir / "selections.json"
    selections = SELECTIONS.get(name, [])
    if not selections:
        if sel_file.exists():
            sel_file.unlink()
        return
    by_path = {e["path"]: e for e in entries}
    recorded = []
    for args, expected_targets in selections:
        log(f"{name}: compiling with {' '.join(args)}")
        sel_entries = compile_in_copy(kapitan, project, args, keep=None)
        # exactly the expected target directories (and their parents) exist
        target_paths = set(expected_targets)
        allowed_prefixes = set()
        for t in expected_targets:
            parts = t.split("/")
            for i in range(1, len(parts)):
                allowed_prefixes.add("/".join(parts[:i]))
        for e in sel_entries:
            p = e["path"]
            inside = any(p == t or p.startswith(t + "/") for t in target_paths)
            if not inside and not (e["type"] == "dir" and p in allowed_prefixes):
                raise SystemExit(f"{name} {args}: unexpected output {p}")
        for t in target_paths:
            if not any(e["path"] == t for e in sel_entries):
                raise SystemExit(f"{name} {args}: target {t} not compiled")
            # the selected targets must be byte-identical to the full compile
            full = [e for e in entries if e["path"] == t or e["path"].startswith(t + "/")]
            part = [e for e in sel_entries if e["path"] == t or e["path"].startswith(t + "/")]
            if full != part:
                raise SystemExit(f"{name} {args}: {t} differs from the full compile")
        for e in sel_entries:
            if e["path"] not in by_path:
                raise SystemExit(f"{name} {args}: {e['path']} not in the full compile")
        recorded.append({"args": args, "targets": sorted(target_paths), "entries": sel_entries})
    write_json(sel_file, {"kapitan_version": KAPITAN_VERSION, "selections": recorded})


def tools_on_path(bin_dir: Path, names: list[str]) -> None:
    """Put the kustomize and cue wrappers the projects need first on PATH."""
    sys.path.insert(0, str(GOLDEN_DIR.parent))
    import tool_wrappers

    if any(n.endswith("_kustomize") for n in names) and not tool_wrappers.kustomize_on_path(bin_dir):
        raise SystemExit("the *_kustomize projects need kustomize or kubectl on PATH")
    if any(n.endswith("_cuelang") for n in names) and not tool_wrappers.cue_on_path(bin_dir):
        raise SystemExit(f"the *_cuelang projects need cue: {tool_wrappers.cue_available()}")
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("projects", nargs="*", help="project names (default: all)")
    opts = parser.parse_args(argv)

    available = sorted(p.name for p in PROJECTS_DIR.iterdir() if p.is_dir())
    names = opts.projects or available
    unknown = [n for n in names if n not in available]
    if unknown:
        parser.error(f"unknown project(s): {', '.join(unknown)}; have: {', '.join(available)}")

    venv_env = os.environ.get("KAPITAN_VENV")
    venv = Path(venv_env).resolve() if venv_env else REPO_ROOT / ".kapitan-venv"
    kapitan = ensure_kapitan(venv)

    with tempfile.TemporaryDirectory(prefix="golden-tools-") as tools:
        tools_on_path(Path(tools), names)
        for name in names:
            regen_project(kapitan, PROJECTS_DIR / name)
    if not opts.projects:
        # drop goldens of projects that no longer exist
        for stale in sorted(EXPECTED_DIR.iterdir()) if EXPECTED_DIR.exists() else []:
            if stale.is_dir() and stale.name not in available:
                log(f"removing stale goldens {stale}")
                shutil.rmtree(stale)
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
