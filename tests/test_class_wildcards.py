"""Class wildcards: kcompile's expansion against Kapitan 0.36.3's own, on random inventories.

Seeded random inventories (nested directories, ``init.yml`` classes, hidden
directories, relative names, duplicates, patterns in targets and in classes,
patterns that match nothing) are expanded by Kapitan's own code, run in its
virtualenv (``$KAPITAN_VENV``) in one subprocess. For each of them:

* kcompile fails exactly when Kapitan does, naming each unmatched pattern's line;
* the copy kcompile gives kapicorp-reclass and reclass-rs equals Kapitan's
  byte for byte;
* the native engine, which expands natively, renders every target as
  kapicorp-reclass renders Kapitan's copy (classes, applications, parameters).

The CLI cases: without the flag a pattern is a missing class, as before; an
unmatched pattern exits 2 with a located line; ``.kapitan`` turns it on.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from refs_support import KAPITAN, KAPITAN_MISSING

from kapitan_lite.inventory.config import load_reclass_config
from kapitan_lite.inventory.engine import make_engine
from kapitan_lite.inventory.engine_api import EngineError
from kapitan_lite.inventory.wildcards import is_pattern, materialize, remove, scan

REPO = Path(__file__).resolve().parent.parent
KAPITAN_PY = KAPITAN.parent / "python"  # the side venv the tests install (kapitan_venv.py)
INVENTORIES = 24

CLASSES = ["common", "init", "apps", "apps.web", "apps.db", "apps.web2", "dev-a", "dev-b",
           "nested.deep.x", "nested.deep.y", "nested.all"]
ENTRIES = ["*", "apps.*", "apps.?b", "dev-[ab]", "nested.*", "*.x", "*.deep.*", "[!a]*",
           "dev-?", ".deep.*", ".x", "common", "apps", "apps.web", "dev-a", "nested.all",
           "${missing_ref}", "no.match.*", 42]

# Kapitan's expansion of each inventory: "error", "unchanged", or the copy it made.
KAPITAN_SCRIPT = r"""
import json, shutil, sys
from kapitan.errors import InventoryError
from kapitan.inventory.wildcards import materialize_expanded_inventory
out = {}
for inv in sys.argv[1:]:
    try:
        got = materialize_expanded_inventory(inv, enable_wildcards=True)
    except InventoryError:
        out[inv] = "error"
        continue
    if got == inv:
        out[inv] = "unchanged"
    else:
        shutil.copytree(got, inv + ".kapitan", symlinks=True)
        out[inv] = inv + ".kapitan"
print(json.dumps(out))
"""


def _class_path(name: str, rng: random.Random) -> str:
    if name == "apps":
        return "apps/init.yml"
    ext = rng.choice([".yml", ".yml", ".yaml"])
    return name.replace(".", "/") + ext


UNMATCHED = ("no.match.*", ".deep.*")  # patterns that match no class (relative names never do)
# What the two classes with classes of their own may include: never themselves, never
# each other both ways (kapicorp-reclass recurses forever on a cycle).
CLASS_ENTRIES = {
    "apps": ["apps.*", "apps.?b", "dev-[ab]", "dev-?", "*.deep.*", ".x", "common", 42],
    "nested.all": ["nested.deep.*", ".deep.*", ".deep.x", "*.x", "apps.*", "apps", "dev-a",
                   "${missing_ref}"],
}


def _entries(rng: random.Random, pool: list[Any], unmatched_ok: bool) -> list[Any]:
    pool = [e for e in pool if unmatched_ok or e not in UNMATCHED]
    got = rng.sample(pool, rng.randint(1, min(4, len(pool))))
    if not any(is_pattern(e) for e in got):  # only Kapitan's rewrite drops a non-string
        got = [e for e in got if isinstance(e, str)] or ["common"]
    return got


def _write_inventory(root: Path, rng: random.Random) -> None:
    unmatched_ok = rng.random() < 0.25
    for name in CLASSES:
        doc: dict[str, Any] = {"parameters": {"order": [name], f"k_{name}": rng.randint(0, 9)}}
        if name in CLASS_ENTRIES:
            doc["classes"] = _entries(rng, CLASS_ENTRIES[name] + ["no.match.*"], unmatched_ok)
        path = root / "classes" / _class_path(name, rng)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
    hidden = root / "classes" / ".hidden" / "h.yml"
    hidden.parent.mkdir(parents=True)
    hidden.write_text("parameters:\n  hidden: true\n")
    (root / "targets").mkdir()
    for t in range(3):
        doc = {"classes": _entries(rng, ENTRIES, unmatched_ok) + rng.sample(CLASSES, 2),
               "parameters": {"order": [f"t{t}"], "flag": "yes" if t else True}}
        (root / "targets" / f"t{t}.yml").write_text(yaml.safe_dump(doc, sort_keys=False))


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _render(engine_name: str, inv: str, wildcards: Any = None) -> dict[str, Any]:
    config = load_reclass_config(inv)
    try:
        engine = make_engine(engine_name, inv, config, wildcards)
    except EngineError as exc:
        return {"engine": f"error: {exc.message}"}
    out: dict[str, Any] = {}
    for t in ("t0", "t1", "t2"):
        try:
            r = engine.render(t)
        except EngineError:
            out[t] = "error"
            continue
        params = dict(r["parameters"])
        params.pop("_reclass_", None)
        out[t] = json.dumps([r["classes"], r["applications"], params], default=str)
    return out


@pytest.fixture(scope="module")
def kapitan_expansions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if KAPITAN_MISSING:
        pytest.skip(KAPITAN_MISSING)
    base = tmp_path_factory.mktemp("wildcards")
    rng = random.Random(1084)
    invs = []
    for i in range(INVENTORIES):
        inv = base / f"inv{i}"
        _write_inventory(inv, rng)
        invs.append(str(inv))
    proc = subprocess.run([str(KAPITAN_PY), "-c", KAPITAN_SCRIPT, *invs], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": ""})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def test_expansion_matches_kapitan(kapitan_expansions: dict[str, str]) -> None:
    kinds = {"error": 0, "unchanged": 0, "copy": 0}
    for inv, got in kapitan_expansions.items():
        expansion = scan(inv)
        if got == "error":
            kinds["error"] += 1
            assert expansion.problems, f"{inv}: Kapitan fails, kcompile does not"
            for p in expansion.problems:
                assert p.line > 0 and "matches no class" in p.message
                entry = p.message.split("'")[1]
                line = Path(p.path).read_text().splitlines()[p.line - 1]
                assert entry in line, (p, line)
            continue
        assert not expansion.problems, (inv, expansion.problems)
        if got == "unchanged":
            kinds["unchanged"] += 1
            assert not expansion.classes
            continue
        kinds["copy"] += 1
        ours = materialize(expansion)
        try:
            assert _tree(Path(ours)) == _tree(Path(got)), inv
        finally:
            remove(ours)
    # The seed exercises every outcome.
    assert kinds["error"] and kinds["copy"], kinds


def test_engines_render_kapitans_expansion(kapitan_expansions: dict[str, str]) -> None:
    compared = 0
    for inv, got in kapitan_expansions.items():
        if got in ("error", "unchanged"):
            continue
        expected = _render("reclass", got)
        assert _render("kapitan-lite", inv, scan(inv)) == expected, inv
        assert _render("reclass", inv, scan(inv)) == expected, inv
        assert _render("reclass-rs", inv, scan(inv)) == _render("reclass-rs", got), inv
        compared += sum(1 for v in expected.values() if v != "error")
    assert compared >= 20, compared  # enough targets render for the comparison to mean much


def _kcompile(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "kapitan_lite", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def _small(tmp_path: Path, classes: list[str]) -> Path:
    (tmp_path / "inventory/classes/apps").mkdir(parents=True)
    (tmp_path / "inventory/targets").mkdir()
    for name in ("web", "db"):
        (tmp_path / f"inventory/classes/apps/{name}.yml").write_text(
            f"parameters:\n  {name}: true\n")
    (tmp_path / "inventory/targets/t.yml").write_text(
        "classes:\n" + "".join(f"  - {c!r}\n" for c in classes))
    return tmp_path


def test_cli_flag_dotkapitan_and_unmatched(tmp_path: Path) -> None:
    root = _small(tmp_path, ["apps.*"])
    off = _kcompile(root, "inventory", "-t", "t")
    assert off.returncode == 2 and "t: class apps.* not found" in off.stderr
    on = _kcompile(root, "inventory", "-t", "t", "--enable-class-wildcards", "--format", "json")
    assert on.returncode == 0, on.stderr
    assert json.loads(on.stdout)["classes"] == ["apps.db", "apps.web"]
    # Kapitan reads the key from inventory_backend: or global:, never from compile:.
    (root / ".kapitan").write_text("compile:\n  enable-class-wildcards: true\n")
    assert _kcompile(root, "inventory", "-t", "t").returncode == 2
    (root / ".kapitan").write_text("global:\n  enable-class-wildcards: true\n")
    assert _kcompile(root, "inventory", "-t", "t").returncode == 0
    (root / ".kapitan").write_text("inventory_backend:\n  enable-class-wildcards: true\n")
    for backend in ("kapitan-lite", "reclass", "reclass-rs"):
        got = _kcompile(root, "inventory", "-t", "t", "--backend", backend, "--format", "json")
        assert got.returncode == 0, got.stderr
        assert json.loads(got.stdout)["classes"] == ["apps.db", "apps.web"], backend
    # An unmatched pattern in a class no target uses still fails the run, as in Kapitan.
    (root / "inventory/classes/unused.yml").write_text("classes:\n  - apps.web\n  - nope.*\n")
    bad = _kcompile(root, "-t", "t")
    assert bad.returncode == 2
    assert bad.stderr.splitlines()[0] == ("inventory/classes/unused.yml:3: class pattern "
                                          "'nope.*' matches no class (--enable-class-wildcards)")


def test_every_command_that_reads_classes_expands_patterns(tmp_path: Path) -> None:
    """graph and lint walk the classes themselves: they expand patterns as compile does."""
    root = _small(tmp_path, ["apps.*"])
    (root / ".kapitan").write_text("global:\n  enable-class-wildcards: true\n")
    graph = _kcompile(root, "graph")
    assert graph.returncode == 0, graph.stderr
    assert '  t0 -->|1| c1\n  t0 -->|2| c2\n' in graph.stdout and '["apps.db"]' in graph.stdout
    lint = _kcompile(root, "lint", "--format", "json")
    assert "class apps.* not found" not in lint.stdout + lint.stderr, lint.stdout


def test_a_new_class_reaches_the_cached_targets_its_pattern_matches(tmp_path: Path) -> None:
    root = tmp_path / "p"
    shutil.copytree(REPO / "tests/golden/projects/class_wildcards", root)
    assert _kcompile(root).returncode == 0
    (root / "inventory/classes/apps/zz.yml").write_text("parameters:\n  order: [apps.zz]\n")
    again = _kcompile(root)
    assert again.returncode == 0, again.stderr
    assert "apps.zz" in (root / "compiled/globs/classes.txt").read_text()
    assert "apps.zz" not in (root / "compiled/plain/classes.txt").read_text()
    assert "1 unchanged (cache)" in again.stderr  # plain has no pattern: still cached


def test_a_missing_class_after_a_pattern_is_located_at_its_own_line(tmp_path: Path) -> None:
    root = _small(tmp_path, ["apps.*", "nosuch"])
    got = _kcompile(root, "inventory", "-t", "t", "--enable-class-wildcards")
    assert got.returncode == 2
    assert got.stderr.splitlines()[0] == "inventory/targets/t.yml:3: t: class nosuch not found"


@pytest.mark.parametrize("backend", ["kapitan-lite", "reclass", "reclass-rs"])
def test_errors_name_the_inventory_not_the_rewritten_copy(tmp_path: Path, backend: str) -> None:
    root = _small(tmp_path, ["apps.*"])
    (root / "inventory/targets/t.yml").write_text(
        "classes:\n  - 'apps.*'\nparameters:\n  a: ${nope}\n")
    got = _kcompile(root, "inventory", "-t", "t", "--enable-class-wildcards", "--backend", backend)
    assert got.returncode == 2
    assert got.stderr.splitlines()[0] == \
        "inventory/targets/t.yml:4: t: undefined reference ${nope} (in parameter a)"


@pytest.mark.parametrize("backend", ["reclass", "reclass-rs"])
def test_the_rewritten_copy_is_removed_when_kcompile_ends(tmp_path: Path, backend: str) -> None:
    # kcompile ends without the interpreter's teardown (cli._leave): its exit
    # handlers, which remove the copy these engines read, must still run.
    root = _small(tmp_path / "project", ["apps.*"])
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(scratch)}
    got = subprocess.run([sys.executable, "-m", "kapitan_lite", "-t", "t", "--backend", backend,
                          "--enable-class-wildcards"], cwd=root, env=env, capture_output=True,
                         text=True, timeout=120)
    assert got.returncode == 0, got.stderr
    assert "1 compiled" in got.stderr
    assert list(scratch.iterdir()) == []
