"""The incremental cache: it skips unchanged targets and never serves stale output."""

import hashlib
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, backdate, content, kcompile, simple_project, write_tree
from faults_support import start

from kapitan_lite.compile import cachefile

GEN = REPO / "bench" / "gen_inventory.py"
SKIP = {"compiled", ".kcompile-cache", ".kcompile-staging"}


def read_cache(proj: Path, name: str = "state.bin"):
    """What one of the cache's files holds."""
    return cachefile.read(str(proj / ".kcompile-cache" / name))


def write_cache(proj: Path, data, name: str = "state.bin") -> bytes:
    """Replace one of the cache's files with ``data``, as kcompile writes them; its bytes."""
    raw = cachefile.encode(data)
    (proj / ".kcompile-cache" / name).write_bytes(raw)
    return raw


def saved_stamps(proj: Path, target: str) -> dict[str, tuple[int, int, int]]:
    """A target's dirs with the inode, mtime and ctime the saved cache stamps them with."""
    state = read_cache(proj)
    quick = state["targets"][target]["quick"]
    if quick is None:
        return {}
    dir_rels, _, _, flat = quick
    return {rel: tuple(flat[3 * i:3 * i + 3]) for i, rel in enumerate(dir_rels)}


def saved_details(proj: Path) -> dict:
    """What the saved cache says each target wrote: the details file, and the state's newer ones."""
    details = read_cache(proj, "details.bin")
    state = read_cache(proj)
    return {**details, **state["more_details"]}


def compiled_counts(run) -> tuple[int, int]:
    m = re.search(r"(\d+) compiled, (\d+) unchanged \(cache\)", run.err)
    assert m, run.err
    return int(m.group(1)), int(m.group(2))


def clean_compile(root: Path, tmp: Path) -> dict:
    """What a from-scratch compile of the same sources gives."""
    fresh = tmp / f"clean-{time.monotonic_ns()}"
    shutil.copytree(root, fresh, ignore=shutil.ignore_patterns(*SKIP))
    run = kcompile("--no-cache", cwd=fresh)
    assert run.code == 0, run.err
    return content(fresh / "compiled")


@pytest.fixture
def proj(tmp_path):
    root = simple_project(tmp_path / "p", targets={"alpha": "1", "beta": "2", "gamma": "3"}, extra={
        "inventory/classes/teams/web.yml": "parameters:\n  team: web\n",
        "inventory/targets/gamma.yml": "classes: [common, teams.web]\nparameters:\n  replicas: 3\n",
        "templates/app.yml": "name: {{ inventory.parameters.target_name }}\n"
                             "replicas: {{ inventory.parameters.replicas }}\n"
                             "{% include 'templates/footer.txt' %}\n",
        "templates/footer.txt": "# footer\n",
    })
    backdate(root)
    assert kcompile(cwd=root).code == 0
    return root


def test_unchanged_recompile_is_served_from_cache(proj):
    run = kcompile(cwd=proj)
    assert compiled_counts(run) == (0, 3)
    assert "0 files written, 3 unchanged" in run.err


def test_class_edit_recompiles_exactly_the_targets_that_use_it(proj, tmp_path):
    write_tree(proj, {"inventory/classes/teams/web.yml": "parameters:\n  team: api\n  replicas: 7\n"})
    backdate(proj)
    run = kcompile(cwd=proj)
    assert compiled_counts(run) == (1, 2)  # only gamma uses teams.web
    assert content(proj / "compiled") == clean_compile(proj, tmp_path)


def test_included_template_edit_invalidates(proj, tmp_path):
    write_tree(proj, {"templates/footer.txt": "# new footer\n"})
    backdate(proj)
    assert compiled_counts(kcompile(cwd=proj)) == (3, 0)
    assert content(proj / "compiled") == clean_compile(proj, tmp_path)


def test_template_mode_change_invalidates(proj):
    os.chmod(proj / "templates/app.yml", 0o755)
    assert compiled_counts(kcompile(cwd=proj)) == (3, 0)
    assert os.stat(proj / "compiled/beta/manifests/app.yml").st_mode & 0o777 == 0o755


def test_tampered_output_is_restored(proj, tmp_path):
    (proj / "compiled/alpha/manifests/app.yml").write_text("hacked")
    (proj / "compiled/beta/manifests/app.yml").unlink()
    (proj / "compiled/gamma/stray.yml").write_text("x")
    run = kcompile(cwd=proj)
    assert compiled_counts(run) == (3, 0)
    assert content(proj / "compiled") == clean_compile(proj, tmp_path)


def test_corrupt_or_foreign_cache_is_ignored(proj, tmp_path):
    state = proj / ".kcompile-cache/state.bin"
    state.write_text("{not a cache file")
    assert compiled_counts(kcompile(cwd=proj)) == (3, 0)
    assert compiled_counts(kcompile(cwd=proj)) == (0, 3)  # stamps every target's dirs
    # A record that does not match what alpha wrote: its quick check fails, and
    # the details say another file was written.
    data = read_cache(proj)
    data["targets"]["alpha"]["quick"][2] += 1
    write_cache(proj, data)
    details_file = proj / ".kcompile-cache/details.bin"
    details = read_cache(proj, "details.bin")
    details["alpha"]["files"]["manifests/app.yml"][0] = "0" * 64
    details["alpha"]["files"]["manifests/app.yml"][3] = 1
    raw = write_cache(proj, details, "details.bin")
    data["details"] = hashlib.sha256(raw).hexdigest()
    write_cache(proj, data)
    assert compiled_counts(kcompile(cwd=proj)) == (1, 2)
    assert content(proj / "compiled") == clean_compile(proj, tmp_path)
    # Details that are not those the state was saved with are not trusted: every
    # target whose quick check fails compiles again.
    assert compiled_counts(kcompile(cwd=proj)) == (0, 3)
    data = read_cache(proj)
    for record in data["targets"].values():
        record["quick"] = None
    write_cache(proj, data)
    details_file.write_bytes(details_file.read_bytes() + b" ")
    assert compiled_counts(kcompile(cwd=proj)) == (3, 0)
    assert content(proj / "compiled") == clean_compile(proj, tmp_path)
    # A quick record of the wrong shape is no crash: the targets are checked file by file.
    data = read_cache(proj)
    for record in data["targets"].values():
        record["quick"] = [[1, None], "manifests/app.yml", 7]
    write_cache(proj, data)
    run = kcompile(cwd=proj)
    assert run.code == 0, run.err
    assert compiled_counts(run) == (0, 3)
    assert content(proj / "compiled") == clean_compile(proj, tmp_path)


def test_a_damaged_cache_file_or_one_of_another_python_is_ignored(proj, tmp_path):
    """One changed byte of the payload, a cut file, or the header of another
    Python's marshal format: the file is treated as missing, never trusted."""
    state = proj / ".kcompile-cache/state.bin"
    good = state.read_bytes()
    flipped = bytearray(good)
    flipped[-20] ^= 0x01
    tag = sys.implementation.cache_tag.encode()
    for bad in (bytes(flipped), good[: len(good) // 2],
                good.replace(tag, b"cpython-299", 1)):
        state.write_bytes(bad)
        with pytest.raises(ValueError):
            cachefile.decode(bad)
        assert compiled_counts(kcompile(cwd=proj)) == (3, 0)
        assert content(proj / "compiled") == clean_compile(proj, tmp_path)
        assert cachefile.read(str(state))["targets"].keys() == {"alpha", "beta", "gamma"}


def test_the_json_files_of_an_older_cache_are_removed(proj):
    """kcompile 0.1's cache kept state.json and details.json: the first save drops them."""
    for new in ("state.bin", "details.bin"):  # a cache of the JSON format only
        (proj / ".kcompile-cache" / new).unlink()
    for old in ("state.json", "details.json"):
        (proj / ".kcompile-cache" / old).write_text("{}")
    (proj / "inventory/targets/alpha.yml").write_text(
        "classes: [common]\nparameters:\n  replicas: 9\n")
    assert compiled_counts(kcompile(cwd=proj)) == (3, 0)
    names = {p.name for p in (proj / ".kcompile-cache").iterdir()}
    assert {"state.bin", "details.bin"} <= names
    assert not names & {"state.json", "details.json"}


def test_cache_ignores_itself_in_git(proj):
    subprocess.run(["git", "init", "-q"], cwd=proj, check=True)
    out = subprocess.run(["git", "status", "--porcelain", "--ignored=no"], cwd=proj,
                         capture_output=True, text=True, check=True).stdout
    assert ".kcompile-cache" not in out


def test_no_cache_compiles_everything(proj):
    assert compiled_counts(kcompile("--no-cache", cwd=proj)) == (3, 0)


def test_options_change_invalidates(proj):
    assert compiled_counts(kcompile("--backend", "reclass-rs", cwd=proj)) == (3, 0)


def test_input_changed_during_the_run_is_not_cached(proj):
    # A file whose mtime is after the run started may have changed while it
    # was read: the output is written but not remembered.
    write_tree(proj, {"templates/footer.txt": "# edited\n"})
    future = time.time() + 3600
    os.utime(proj / "templates/footer.txt", (future, future))
    assert compiled_counts(kcompile(cwd=proj)) == (3, 0)
    assert compiled_counts(kcompile(cwd=proj)) == (3, 0)
    backdate(proj)
    assert compiled_counts(kcompile(cwd=proj)) == (3, 0)
    assert compiled_counts(kcompile(cwd=proj)) == (0, 3)


def test_edit_then_compile_right_away_is_cached(proj):
    write_tree(proj, {"templates/footer.txt": "# edited\n"})
    # A tenth of a second before the run: outside the 50 ms in which the cache
    # distrusts a source (MTIME_SLACK_NS), which kcompile's own start-up may
    # no longer outlast.
    past = time.time() - 0.1
    os.utime(proj / "templates/footer.txt", (past, past))
    assert compiled_counts(kcompile(cwd=proj)) == (3, 0)
    assert compiled_counts(kcompile(cwd=proj)) == (0, 3)


def test_inventory_global_readers_follow_the_target_they_read(tmp_path):
    root = simple_project(tmp_path / "p", extra={
        "templates/app.yml": "peer: {{ inventory_global['beta'].parameters.replicas }}\n"})
    backdate(root)
    assert kcompile(cwd=root).code == 0
    write_tree(root, {"inventory/targets/beta.yml": "classes: [common]\nparameters:\n  replicas: 9\n"})
    backdate(root)
    assert compiled_counts(kcompile(cwd=root)) == (2, 0)  # alpha reads beta
    assert (root / "compiled/alpha/manifests/app.yml").read_text() == "peer: 9"


def test_removed_target_is_forgotten_and_pruned(proj):
    (proj / "inventory/targets/gamma.yml").unlink()
    run = kcompile(cwd=proj)
    assert compiled_counts(run) == (0, 2)
    assert not (proj / "compiled/gamma").exists()


def _random_edit(rng: random.Random, root: Path) -> str:
    """One random change to a generated corpus; returns what it did."""
    classes = sorted((root / "inventory/classes").rglob("*.yml"))
    templates = sorted((root / "components").rglob("*.yml"))
    refs = sorted(p for p in (root / "refs").rglob("*") if p.is_file())
    targets = sorted((root / "inventory/targets").glob("*.yml"))
    kind = rng.choice(["class", "class", "template", "ref", "add", "remove", "mode"])
    if kind == "class":
        path = rng.choice(classes)
        text = path.read_text()
        numbers = list(re.finditer(r": (\d+)$", text, re.M))
        if numbers:
            m = rng.choice(numbers)
            text = text[:m.start(1)] + str(int(m.group(1)) + 1) + text[m.end(1):]
        path.write_text(text)
        return f"class {path.name}"
    if kind == "template":
        path = rng.choice(templates)
        path.write_text(path.read_text() + f"# edit {rng.random()}\n")
        return f"template {path.name}"
    if kind == "ref" and refs:
        path = rng.choice(refs)
        path.write_text(path.read_text().replace("data: ", "data: QQ", 1))
        return f"ref {path.name}"
    if kind == "add":
        src = rng.choice(targets)
        dst = src.with_name(f"added-{rng.randrange(10**6)}.yml")
        shutil.copy(src, dst)
        src_refs = root / "refs/targets" / src.stem
        if src_refs.is_dir():  # its secrets, as the generator writes them per target
            shutil.copytree(src_refs, root / "refs/targets" / dst.stem)
        return f"add {dst.name}"
    if kind == "remove" and len(targets) > 3:
        path = rng.choice(targets)
        path.unlink()
        return f"remove {path.name}"
    path = rng.choice(templates)
    os.chmod(path, 0o755 if os.stat(path).st_mode & 0o100 == 0 else 0o644)
    return f"mode {path.name}"


@pytest.mark.skipif(not GEN.is_file(), reason=f"corpus generator not found at {GEN}")
def test_random_edits_match_clean_compiles(tmp_path):
    root = tmp_path / "corpus"
    subprocess.run([sys.executable, str(GEN), "--targets", "12", "--components", "6",
                    "--seed", "7", "--out", str(root)], check=True, capture_output=True)
    backdate(root)
    assert kcompile(cwd=root).code == 0
    rng = random.Random(1234)
    served = 0
    for step in range(12):
        what = _random_edit(rng, root)
        backdate(root)
        run = kcompile(cwd=root)
        assert run.code == 0, f"step {step} ({what}): {run.err}"
        served += compiled_counts(run)[1]
        assert content(root / "compiled") == clean_compile(root, tmp_path), f"step {step}: {what}"
    assert served > 0  # the cache was really used, not bypassed


def test_jsonnet_imports_and_file_reads_are_tracked(tmp_path):
    pytest.importorskip("_jsonnet")
    root = simple_project(tmp_path / "p", extra={
        "inventory/classes/common.yml": "parameters:\n  target_name: ${_reclass_:name:short}\n"
        "  kapitan:\n    vars:\n      target: ${target_name}\n    compile:\n"
        "      - input_type: jsonnet\n        input_paths: [components/app.jsonnet]\n"
        "        output_path: .\n",
        "components/app.jsonnet": 'local lib = import "lib/util.libsonnet";\n'
        'local kap = import "lib/kapitan.libjsonnet";\n'
        '{ app: { n: lib.n, note: kap.file_read("components/note.txt") } }\n',
        "lib/util.libsonnet": "{ n: 1 }\n",
        "components/note.txt": "hello\n",
    })
    backdate(root)
    assert kcompile(cwd=root).code == 0
    assert compiled_counts(kcompile(cwd=root)) == (0, 2)
    write_tree(root, {"lib/util.libsonnet": "{ n: 2 }\n"})
    backdate(root)
    assert compiled_counts(kcompile(cwd=root)) == (2, 0)
    assert "n: 2" in (root / "compiled/alpha/app.yaml").read_text()
    write_tree(root, {"components/note.txt": "bye\n"})
    backdate(root)
    assert compiled_counts(kcompile(cwd=root)) == (2, 0)
    assert "bye" in (root / "compiled/alpha/app.yaml").read_text()


def test_same_size_edit_with_its_times_set_back_is_seen(proj, tmp_path):
    """Files are trusted by inode, size, mtime and ctime between runs; setting
    the mtime back after an edit still moves the ctime, so the edit is seen."""
    time.sleep(0.2)  # older than the racy window: the next run notes the files' stats
    assert compiled_counts(kcompile(cwd=proj)) == (0, 3)
    state = read_cache(proj)
    footer = str(Path("templates/footer.txt"))
    assert footer in state["files"]  # trusted by its stat from now on
    web = str(Path("inventory/classes/teams/web.yml"))  # read by gamma only
    assert web in state["files"]
    # A -t run edits the table of what it read, and keeps the rest of it.
    (proj / "inventory/targets/alpha.yml").write_text(
        "classes: [common]\nparameters:\n  replicas: 5\n")
    assert compiled_counts(kcompile("-t", "alpha", cwd=proj)) == (1, 0)
    assert web in read_cache(proj)["files"]
    path = proj / footer
    before = path.stat()
    path.write_text("# FOOTER\n")  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == \
        (before.st_size, before.st_mtime_ns, before.st_ino)
    assert compiled_counts(kcompile(cwd=proj)) == (3, 0)
    assert content(proj / "compiled") == clean_compile(proj, tmp_path)


def test_compiled_templates_are_kept_with_no_cache_and_follow_source_and_filters(tmp_path):
    """--no-cache still reuses compiled templates, as Python reuses its .pyc: each is
    checked against its source, and a changed set of custom filters compiles anew."""
    root = simple_project(tmp_path / "p", extra={
        "templates/app.yml": "name: {{ inventory.parameters.target_name | shout }}\n",
        "lib/jinja2_filters.py": "def shout(s):\n    return s.upper()\n",
    })
    other_version = write_tree(root, {".kcompile-cache/jinja2-0123456789abcdef/x": "old"})
    assert kcompile("--no-cache", cwd=root).code == 0
    assert list(root.glob(".kcompile-cache/jinja2-*/*/*")), "no compiled template kept"
    assert not (other_version / ".kcompile-cache/jinja2-0123456789abcdef").exists()
    assert (root / ".kcompile-cache/.gitignore").exists()
    write_tree(root, {"templates/app.yml": "name: {{ inventory.parameters.target_name }}!\n"})
    assert kcompile("--no-cache", cwd=root).code == 0
    assert (root / "compiled/alpha/manifests/app.yml").read_text() == "name: alpha!"
    # A filter the template uses disappears: the same error as a clean compile.
    write_tree(root, {"templates/app.yml": "name: {{ inventory.parameters.target_name | shout }}\n",
                      "lib/jinja2_filters.py": "def whisper(s):\n    return s.lower()\n"})
    warm = kcompile("--no-cache", cwd=root)
    shutil.rmtree(root / ".kcompile-cache")
    cold = kcompile("--no-cache", cwd=root)
    assert warm.code == cold.code == 2
    assert warm.err == cold.err and "shout" in cold.err


def test_output_checked_by_dir_stamps_still_sees_every_change(proj, tmp_path):
    """After a no-change run, a target's dirs are stamped (inode, mtime, ctime) and only
    its files are stat'ed: an added, removed or rewritten file is still seen."""
    assert compiled_counts(kcompile(cwd=proj)) == (0, 3)  # stamps the dirs
    assert all(saved_stamps(proj, t) for t in ("alpha", "beta", "gamma"))
    assert compiled_counts(kcompile(cwd=proj)) == (0, 3)  # checked by their stats
    assert compiled_counts(kcompile(cwd=proj)) == (0, 3)
    (proj / "compiled/gamma/manifests/stray.yml").write_text("x")  # an extra file
    app = proj / "compiled/beta/manifests/app.yml"
    app.write_text(app.read_text().replace("beta", "BETA"))  # rewritten in place
    (proj / "compiled/alpha/manifests/app.yml").unlink()
    (proj / "compiled/alpha/manifests/app.yml").write_text("")  # removed, then made anew
    assert compiled_counts(kcompile(cwd=proj)) == (3, 0)
    assert content(proj / "compiled") == clean_compile(proj, tmp_path)
KADET_COMMON = """\
parameters:
  target_name: ${_reclass_:name:short}
  peer: alpha
  kapitan:
    vars:
      target: ${target_name}
    compile:
      - input_type: kadet
        input_paths: [components/app]
        output_path: .
"""
KADET_APP = '''\
import os

from kapitan.inputs import kadet

from .helper import shape

kubelib = kadet.load_from_search_paths("kubelib")


def main():
    p = kadet.inventory().parameters
    peer = kadet.inventory_global()[p.peer].parameters.replicas
    with open("files/greeting.txt") as fp:
        greeting = fp.read().strip()
    extra = {}
    for name in sorted(os.listdir("files/extra")):
        with open(os.path.join("files/extra", name)) as fp:
            extra[name] = fp.read()
    return {"app": shape(kubelib.label(p.target_name), p.replicas, peer, greeting, extra)}
'''


def _kadet_project(root: Path) -> Path:
    return simple_project(root, targets={"alpha": "1", "beta": "2", "gamma": "3"}, extra={
        "inventory/classes/common.yml": KADET_COMMON,
        "components/app/__init__.py": KADET_APP,
        "components/app/helper.py": "def shape(name, n, peer, greeting, extra):\n"
                                    "    return {'name': name, 'n': n, 'peer': peer, "
                                    "'greeting': greeting, 'extra': extra}\n",
        "lib/kubelib/__init__.py": "def label(name):\n    return 'lib-' + name\n",
        "files/greeting.txt": "hello\n",
        "files/extra/a.txt": "a\n",
    })


KADET_EDITS = ["helper", "lib", "greeting", "add", "remove", "shadow", "class", "target", "main"]


def _kadet_edit(rng: random.Random, root: Path, kind: str) -> None:
    """One change of ``kind`` to what the kadet component reads."""
    n = rng.randrange(1000)
    if kind == "helper":
        path = root / "components/app/helper.py"
        path.write_text(path.read_text().replace("'n': n", f"'n': n + {n}", 1))
    elif kind == "lib":
        (root / "lib/kubelib/__init__.py").write_text(
            f"def label(name):\n    return 'lib{n}-' + name\n")
    elif kind == "greeting":
        (root / "files/greeting.txt").write_text(f"hello {n}\n")
    elif kind == "add":
        (root / f"files/extra/f{n}.txt").write_text(f"{n}\n")
    elif kind == "remove":
        files = sorted((root / "files/extra").iterdir())
        if files:
            rng.choice(files).unlink()
    elif kind == "shadow":  # a kubelib earlier on the search paths (. before lib) wins
        shadow = root / "kubelib/__init__.py"
        if shadow.exists():
            shutil.rmtree(shadow.parent)
        else:
            write_tree(root, {"kubelib/__init__.py": "def label(name):\n    return 'top-' + name\n"})
    elif kind == "class":
        path = root / "inventory/classes/common.yml"
        path.write_text(path.read_text().replace("peer: alpha", "peer: beta") if "peer: alpha"
                        in path.read_text() else path.read_text().replace("peer: beta", "peer: alpha"))
    elif kind == "target":  # alpha or beta: read by the others through inventory_global
        name = rng.choice(["alpha", "beta", "gamma"])
        (root / f"inventory/targets/{name}.yml").write_text(
            f"classes: [common]\nparameters:\n  replicas: {n}\n")
    else:
        path = root / "components/app/__init__.py"
        path.write_text(path.read_text() + f"# edit {n}\n")


def test_kadet_components_are_cached_and_random_edits_match_clean_compiles(tmp_path):
    root = _kadet_project(tmp_path / "p")
    backdate(root)
    assert compiled_counts(kcompile(cwd=root)) == (3, 0)
    assert compiled_counts(kcompile(cwd=root)) == (0, 3)  # kadet output is cached
    rng = random.Random(4321)
    edits = [*KADET_EDITS, *rng.choices(KADET_EDITS, k=3)]  # every kind, in a random order
    rng.shuffle(edits)
    served = 0
    for step, what in enumerate(edits):
        _kadet_edit(rng, root, what)
        backdate(root)
        run = kcompile(cwd=root)
        assert run.code == 0, f"step {step} ({what}): {run.err}"
        served += compiled_counts(run)[1]
        assert content(root / "compiled") == clean_compile(root, tmp_path), f"step {step}: {what}"
    assert served > 0


@pytest.mark.parametrize("effect", [
    "import subprocess; subprocess.run(['true'])",
    "open('side-effect.txt', 'w').write('x')",
])
def test_kadet_component_with_side_effects_is_always_compiled(tmp_path, effect):
    root = _kadet_project(tmp_path / "p")
    path = root / "components/app/__init__.py"
    path.write_text(path.read_text().replace("def main():\n", f"def main():\n    {effect}\n"))
    backdate(root)
    assert compiled_counts(kcompile(cwd=root)) == (3, 0)
    assert compiled_counts(kcompile(cwd=root)) == (3, 0)


def test_fleet_second_compile_compiles_nothing(tmp_path):
    """The example fleet (kadet, jsonnet, jinja2, refs) is served from the cache."""
    root = tmp_path / "fleet"
    for name in ("inventory", "templates", "components", "refs"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    backdate(root)
    assert kcompile(cwd=root).code == 0
    run = kcompile(cwd=root)
    assert compiled_counts(run) == (0, 3), run.err


def test_rewritten_but_equal_output_is_trusted_by_its_new_stat(proj, tmp_path):
    """A file of compiled/ rewritten with the same bytes (a checkout does that) is read
    once to compare, and its new stat is noted: the run after trusts it again."""
    app = proj / "compiled/alpha/manifests/app.yml"
    data = app.read_bytes()
    time.sleep(0.2)
    app.write_bytes(data)  # same bytes, a new mtime
    earlier = app.stat().st_mtime_ns - 5_000_000_000
    os.utime(app, ns=(earlier, earlier))  # before the next run, by more than its racy window
    assert compiled_counts(kcompile(cwd=proj)) == (0, 3)
    assert saved_details(proj)["alpha"]["files"]["manifests/app.yml"][3] == earlier
    state = read_cache(proj)
    assert state["targets"]["alpha"]["quick"] is not None
    assert compiled_counts(kcompile(cwd=proj)) == (0, 3)
    app.write_bytes(data.replace(b"alpha", b"ALPHA"))  # and a real change is still seen
    assert compiled_counts(kcompile(cwd=proj)) == (1, 2)
    assert content(proj / "compiled") == clean_compile(proj, tmp_path)


def _stray_file_before_the_commit(proj: Path, *args: str) -> Path:
    """Run kcompile, adding a file to beta's output while it pauses before its commit
    reads the old tree (alpha is compiled); return that file's path."""
    proc = start(proj, *args, env={"KCOMPILE_TEST_COMMIT_PAUSE": "2"})
    try:
        staged = proj / ".kcompile-staging/compiled/alpha"
        while proc.poll() is None and not staged.exists():
            time.sleep(0.005)
        time.sleep(0.5)  # in the pause before the commit reads the old tree
        stray = proj / "compiled/beta/manifests/stray.yml"
        stray.write_text("x")
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    return stray


def test_a_target_found_intact_comes_into_the_new_tree_as_it_was_found(proj, tmp_path):
    """A target the run found intact comes into the new tree from the spare, as the
    check found it, without a look at compiled/: a file added to its dir after the
    check is not carried over, and the new tree is exactly the sources' output."""
    assert compiled_counts(kcompile(cwd=proj)) == (0, 3)  # every target stamped
    (proj / "inventory/targets/alpha.yml").write_text(
        "classes: [common]\nparameters:\n  replicas: 7\n")
    backdate(proj)
    assert compiled_counts(kcompile(cwd=proj)) == (1, 2)  # the record vouches for beta's dirs
    (proj / "inventory/targets/alpha.yml").write_text(
        "classes: [common]\nparameters:\n  replicas: 8\n")
    backdate(proj)
    stray = _stray_file_before_the_commit(proj, "-p", "1")
    assert not stray.exists(), "the stray file was carried into the new tree"
    assert content(proj / "compiled") == clean_compile(proj, tmp_path)
    assert compiled_counts(kcompile(cwd=proj)) == (0, 3)


def test_a_change_the_commit_reads_is_seen_next_run(proj, tmp_path):
    """A target the run did not check (``-t``) comes into the new tree as the commit
    reads it; a file added to it before that read is kept, and the next full run,
    which finds it there, compiles that target again."""
    assert compiled_counts(kcompile(cwd=proj)) == (0, 3)
    (proj / "inventory/targets/alpha.yml").write_text(
        "classes: [common]\nparameters:\n  replicas: 7\n")
    backdate(proj)
    stray = _stray_file_before_the_commit(proj, "-t", "alpha")
    assert stray.exists(), "a target the run did not check lost a file"
    assert compiled_counts(kcompile(cwd=proj)) == (1, 2)  # beta: its dir changed
    assert content(proj / "compiled") == clean_compile(proj, tmp_path)


def test_targets_not_compiled_keep_their_stamps_in_the_new_tree(proj):
    """A commit makes compiled/ a new tree; the targets it did not compile are stamped
    there, so the next run checks them by their stats and does not read their dirs."""
    for replicas in (7, 8):  # the second commit's spare already holds beta's dirs
        (proj / "inventory/targets/alpha.yml").write_text(
            f"classes: [common]\nparameters:\n  replicas: {replicas}\n")
        backdate(proj)
        assert compiled_counts(kcompile(cwd=proj)) == (1, 2)
    stamps = saved_stamps(proj, "beta")
    for rel, (ino, mtime, ctime) in stamps.items():
        st = os.lstat(proj / "compiled/beta" / rel)
        assert (st.st_ino, st.st_mtime_ns, st.st_ctime_ns) == (ino, mtime, ctime)
    assert stamps and not saved_stamps(proj, "alpha")


def test_an_edit_saves_new_details_in_the_state_and_leaves_the_details_file(proj, tmp_path):
    """A run that recompiles a few targets saves what they wrote in the state and leaves
    the details file as it was; a run that reads the details file anyway writes it afresh,
    with them in it."""
    assert compiled_counts(kcompile(cwd=proj)) == (0, 3)
    details_file = proj / ".kcompile-cache/details.bin"
    before = details_file.read_bytes()
    (proj / "inventory/targets/alpha.yml").write_text(
        "classes: [common]\nparameters:\n  replicas: 7\n")
    backdate(proj)  # else alpha, changed just before the run, is not cached
    assert compiled_counts(kcompile(cwd=proj)) == (1, 2)
    assert details_file.read_bytes() == before
    state = read_cache(proj)
    assert set(state["more_details"]) == {"alpha"}
    app = proj / "compiled/alpha/manifests/app.yml"
    written = state["more_details"]["alpha"]["files"]["manifests/app.yml"][0]
    assert written == hashlib.sha256(app.read_bytes()).hexdigest()
    assert compiled_counts(kcompile(cwd=proj)) == (0, 3)  # both halves trusted
    beta = proj / "compiled/beta/manifests/app.yml"
    beta.write_bytes(beta.read_bytes())  # a new stat: beta's details are read
    earlier = beta.stat().st_mtime_ns - 5_000_000_000
    os.utime(beta, ns=(earlier, earlier))  # and noted: not within the run's racy window
    assert compiled_counts(kcompile(cwd=proj)) == (0, 3)
    state = read_cache(proj)
    details = read_cache(proj, "details.bin")
    assert state["more_details"] == {}
    assert details["alpha"]["files"]["manifests/app.yml"][0] == written
    assert content(proj / "compiled") == clean_compile(proj, tmp_path)


def test_the_dependency_table_sheds_what_no_target_names_once_it_is_mostly_that():
    """The saved table keeps dependencies no target names until they are many, then
    drops them and renumbers what the targets name."""
    from kapitan_lite.compile.cache import _drop_unused

    table = [("file", f"f{i}", "h") for i in range(400)]
    targets = {"t": {"inventory_deps": [399, 3], "input_deps": [7]}}
    kept = _drop_unused(table, targets)
    assert kept == [table[3], table[7], table[399]]
    assert targets["t"] == {"inventory_deps": [2, 0], "input_deps": [1]}
    few = {"t": {"inventory_deps": [1], "input_deps": []}}
    assert _drop_unused(table[:200], few) == table[:200] and few["t"]["inventory_deps"] == [1]
