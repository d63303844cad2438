#!/usr/bin/env python3
"""Regenerate tests/refs_compat/old/: refs written by older Kapitans, and what 0.36.3 makes of them.

For each old Kapitan venv found (``$OLDK/k<version>``, default ``/work/oldk``;
make them with ``python -m venv /work/oldk/k0.29.5 && /work/oldk/k0.29.5/bin/pip
install kapitan==0.29.5``, falling back to ``--no-deps`` plus the modules its
refs code imports where the pinned dependencies no longer build):

- ``project/refs/v<version>/``: refs of every type that version has, written
  by ``write_refs.py`` with that version's own classes;
- ``project/templates/v<version>.txt`` and a target per version: one tag per ref
  that reveals offline (plus sub-variable tags); the target ``online`` has the
  vault and KMS tags of every version;
- ``project/compiled/``: ``kapitan compile`` (0.36.3, ``$KAPITAN_VENV``) of all targets;
- ``embedded/compiled/``: the same with ``embed-refs: true`` in ``.kapitan``;
- ``revealed/compiled/``: ``kapitan compile --reveal`` of the version targets;
- ``migrated/v<version>/``: each ref file as 0.36.3 loads and dumps it (what
  ``kcompile refs migrate`` must write; plain and env refs can't be dumped by
  Kapitan once loaded, so they stay as they are);
- ``versions.json``: per version, what was written and how.

Kapitan runs with a clean environment (its vault model reads ``ADDR``,
``MOUNT``, ``KEY``... from it). Usage: python tests/refs_compat/old/regen.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE / "project"
REPO = HERE.parents[2]
OLDK = Path(os.environ.get("OLDK", "/work/oldk"))
KAPITAN_VENV = Path(os.environ.get("KAPITAN_VENV", REPO / ".kapitan-venv"))
VERSIONS = ("0.16.11", "0.25.5", "0.29.5", "0.30.0", "0.32.0", "0.33.0", "0.34.7", "0.35.1")
ENV = {"KAPITAN_VAR_text": "env-from-environment"}
ONLINE = ("vaultkv", "vaulttransit", "awskms", "gkms", "azkms")
SUBVARS = {"base64/config": "db.user", "gpg/config": "api.token"}
sys.path.insert(0, str(HERE.parent))
from regen import gpg_home, run  # noqa: E402  (tests/refs_compat/regen.py)

# Load each ref file with 0.36.3's own class for its type, and dump it.
DUMP = r"""
import sys, yaml
from kapitan.refs.base import RefController
rc = RefController(sys.argv[1])
for path in sys.argv[2:]:
    with open(f"{sys.argv[1]}/{path}") as fp:
        type_name = yaml.safe_load(fp).get("type", "gpg")  # Kapitan < 0.20 wrote no type
    ref = rc._get_backend(type_name)[path]
    with open(f"{sys.argv[1]}/{path}", "w") as fp:
        yaml.safe_dump(ref.dump(), stream=fp, default_flow_style=False)
"""


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """Only what the tools need: no stray ADDR/MOUNT/KEY reaching Kapitan's vault model."""
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return {**keep, **extra}


def target(name: str, tags: list[tuple[str, str]]) -> tuple[str, str]:
    """An inventory target and its template: one line per ``(version, ref path)``."""
    lines = []
    for version, path in tags:
        type_name = path.split("/")[0]
        lines.append(f"{path}: ?{{{type_name}:v{version}/{path}}}")
        if path in SUBVARS:
            lines.append(f"{path}@: ?{{{type_name}:v{version}/{path}@{SUBVARS[path]}}}")
    inv = (f"parameters:\n  kapitan:\n    vars:\n      target: {name}\n    compile:\n"
           "      - output_path: .\n        input_type: jinja2\n"
           f"        input_paths: [templates/{name}.txt]\n")
    return inv, "\n".join(lines) + "\n"


def write_target(name: str, tags: list[tuple[str, str]]) -> None:
    """Write the target ``name`` and its template."""
    inv, template = target(name, tags)
    (PROJECT / "inventory" / "targets" / f"{name}.yml").write_text(inv)
    (PROJECT / "templates" / f"{name}.txt").write_text(template)


def main() -> None:
    kapitan = KAPITAN_VENV / "bin" / "kapitan"
    if not kapitan.exists():
        sys.exit(f"no kapitan 0.36.3 at {kapitan} (set KAPITAN_VENV)")
    for sub in ("refs", "compiled", "templates", "inventory"):
        shutil.rmtree(PROJECT / sub, ignore_errors=True)
    for sub in ("embedded", "revealed", "migrated"):
        shutil.rmtree(HERE / sub, ignore_errors=True)
    (PROJECT / "inventory" / "classes").mkdir(parents=True)
    (PROJECT / "inventory" / "targets").mkdir()
    (PROJECT / "templates").mkdir()
    info: dict[str, dict[str, object]] = {}
    online: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        genv = gpg_home(tmp)
        listing = subprocess.run(["gpg", "--list-keys", "--with-colons"], env=genv,
                                 capture_output=True, text=True, check=True).stdout
        fpr = next(ln.split(":")[9] for ln in listing.splitlines() if ln.startswith("fpr"))
        env = clean_env({"GNUPGHOME": genv["GNUPGHOME"], **ENV})
        for version in VERSIONS:
            python = OLDK / f"k{version}" / "bin" / "python"
            if not list((OLDK / f"k{version}").glob("lib/python*/site-packages/kapitan/__init__.py")):
                info[version] = {"installed": False}
                continue
            refs = PROJECT / "refs" / f"v{version}"
            proc = subprocess.run([str(python), str(HERE / "write_refs.py"), str(refs), fpr],
                                  env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                sys.exit(f"kapitan {version} failed to write refs:\n{proc.stderr}")
            paths = sorted(str(p.relative_to(refs)) for p in refs.rglob("*") if p.is_file())
            # Vault and KMS refs can't be revealed offline (kcompile has no "mock"
            # key): their tags go to the target "online".
            online += [(version, p) for p in paths if p.split("/")[0] in ONLINE]
            write_target("v" + version.replace(".", "_"),
                         [(version, p) for p in paths if p.split("/")[0] not in ONLINE])
            migrated = HERE / "migrated" / f"v{version}"
            shutil.copytree(refs, migrated)
            dumpable = [p for p in paths if p.split("/")[0] not in ("plain", "env")]
            run([str(KAPITAN_VENV / "bin" / "python"), "-c", DUMP, str(migrated), *dumpable],
                env, PROJECT)
            info[version] = {"installed": True, "refs": paths, "notes": json.loads(proc.stdout)}
        write_target("online", online)
        run([str(kapitan), "compile"], env, PROJECT)
        offline = [t for t in sorted(info) if info[t].get("installed")]
        run([str(kapitan), "compile", "--reveal", "--output-path", str(HERE / "revealed"), "-t",
             *["v" + v.replace(".", "_") for v in offline]], env, PROJECT)
        (PROJECT / ".kapitan").write_text("compile:\n  embed-refs: true\n")
        try:
            run([str(kapitan), "compile", "--output-path", str(HERE / "embedded")], env, PROJECT)
        finally:
            (PROJECT / ".kapitan").unlink()
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, check=False)
    (HERE / "versions.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    print("regenerated", HERE)


if __name__ == "__main__":
    main()
