"""``kcompile affected`` and ``kcompile graph``; ``diff`` compiling only what a change affects."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import kcompile, snapshot, write_tree
from review_project import commit, git, make_delta_read_alpha, make_fleet

from kapitan_lite.cli.options import settings_from
from kapitan_lite.compile.run import compile_project
from kapitan_lite.review.affected import affected_between


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    return make_fleet(tmp_path / "fleet")


def affected(root: Path, *args: str) -> dict:
    run = kcompile("affected", "--base", "HEAD", "--format", "json", *args, cwd=root)
    assert run.code == 0, run.err
    return json.loads(run.out)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


# -- affected -----------------------------------------------------------------

def test_class_change_affects_the_targets_that_include_it(fleet):
    assert affected(fleet)["targets"] == []  # nothing changed
    edit(fleet / "inventory/classes/web.yml", "log_level: info", "log_level: warn")
    doc = affected(fleet)
    # gamma overrides the value, but its inventory still comes from the class:
    # affected means "can differ", not "differs".
    assert (doc["all"], doc["targets"]) == (False, ["alpha", "beta", "gamma"])
    assert doc["reasons"]["alpha"] == "inventory/classes/web.yml changed"
    run = kcompile("affected", "--base", "HEAD", cwd=fleet)
    assert (run.code, run.out) == (0, "alpha\nbeta\ngamma\n")


def test_template_and_ref_changes_reach_the_targets_that_read_them(fleet):
    (fleet / "templates/docs/README.md").write_text("# {{ target }}\n")
    assert affected(fleet)["targets"] == ["alpha", "beta", "delta", "gamma"]
    git(fleet, "checkout", "-q", "--", "templates")
    # One ref file: one target's secret.
    ref = fleet / "refs/targets/beta/db"
    edit(ref, "data: ", "data: QQ")
    doc = affected(fleet)
    assert (doc["targets"], doc["reasons"]) == (["beta"], {"beta": "refs/targets/beta/db changed"})
    # Between two revisions, the working tree left out.
    commit(fleet, "rotate")
    doc = affected(fleet, "--base", "HEAD~1", "--head", "HEAD")
    assert doc["targets"] == ["beta"]


def test_new_and_removed_targets(fleet):
    (fleet / "inventory/targets/delta.yml").unlink()
    (fleet / "inventory/targets/epsilon.yml").write_text("classes: [common]\n")
    doc = affected(fleet)
    assert doc["targets"] == ["delta", "epsilon"] and doc["removed"] == ["delta"]
    assert doc["reasons"] == {"delta": "removed target", "epsilon": "new target"}


def test_all_when_it_cannot_know(fleet):
    (fleet / "NOTES.txt").write_text("not read by anything\n")
    run = kcompile("affected", "--base", "HEAD", cwd=fleet)
    assert run.out == "all: NOTES.txt changed, and no target's recorded inputs include it\n"
    (fleet / "NOTES.txt").unlink()
    (fleet / ".kapitan").write_text("compile:\n  indent: 2\n")
    doc = affected(fleet)
    assert doc["all"] and doc["reason"].startswith(".kapitan changed")
    assert doc["targets"] == ["alpha", "beta", "delta", "gamma"]
    (fleet / ".kapitan").unlink()
    write_tree(fleet, {"inventory/classes/web/init.yml": "parameters: {}\n"})  # web twice
    doc = affected(fleet)
    assert doc["reason"].startswith("the head inventory does not load (inventory/classes/web")
    assert doc["targets"] == ["alpha", "beta", "delta", "gamma"]
    shutil.rmtree(fleet / "inventory/classes/web")
    edit(fleet / "inventory/classes/web.yml", "replicas: 2", "replicas: 3")
    shutil.rmtree(fleet / ".kcompile-cache")
    doc = affected(fleet)
    assert doc["reason"] == "no compile cache (run kcompile first)"
    run = kcompile("affected", "--base", "nosuch", cwd=fleet)
    assert (run.code, run.err) == (2, "kcompile affected: unknown revision 'nosuch'\n")


def test_inventory_global_readers_are_affected(fleet):
    make_delta_read_alpha(fleet)
    (fleet / "inventory/targets/alpha.yml").write_text(
        "classes: [common, web]\nparameters:\n  log_level: error\n")
    doc = affected(fleet)
    assert doc["targets"] == ["alpha", "delta"]
    assert doc["reasons"]["delta"] == \
        "it reads target alpha (inventory_global), which changed"


def test_kadet_component_change_reaches_its_target(fleet):
    write_tree(fleet, {
        "components/kad/__init__.py": """\
            from kapitan.inputs import kadet


            def main(input_params):
                return {"k": kadet.BaseObj.from_dict({"v": 1})}
            """,
        "inventory/targets/gamma.yml": """\
            classes: [common, web]
            parameters:
              log_level: debug
              kapitan:
                compile:
                  - input_type: kadet
                    input_paths: [components/kad]
                    output_path: kad
            """,
    })
    assert kcompile(cwd=fleet).code == 0
    commit(fleet, "kadet")
    edit(fleet / "components/kad/__init__.py", '"v": 1', '"v": 2')
    doc = affected(fleet)
    # A kadet component that does not say what it reads makes the change
    # unknowable ("all"); one whose reads are recorded narrows it to gamma.
    assert doc["targets"] == ["gamma"] or (doc["all"] and "gamma" in doc["targets"])


def test_diff_compiles_only_the_affected_targets(fleet):
    edit(fleet / "inventory/classes/web.yml", "log_level: info", "log_level: warn")
    run = kcompile("diff", "-v", "--format", "json", cwd=fleet)
    assert run.code == 0, run.err
    assert sorted(t["target"] for t in json.loads(run.out)["targets"]) == ["alpha", "beta"]
    # affected: alpha, beta, gamma; the base only needs those whose inventory differs.
    assert "compiled 2 targets of HEAD" in run.err and "and 3 of working tree" in run.err
    # A template every target reads: all four, on both sides.
    edit(fleet / "templates/docs/README.md", "Replicas", "Replica count")
    run = kcompile("diff", "-v", cwd=fleet)
    assert "compiled 4 targets of HEAD" in run.err and "and 4 of working tree" in run.err


# -- the randomised check: affected holds every target whose output changed ------

RANDOM_FLEET = {
    "inventory/classes/common.yml": """\
        parameters:
          target_name: ${_reclass_:name:short}
          image: app:1
          kapitan:
            vars:
              target: ${target_name}
            compile:
              - input_type: jinja2
                input_paths: [templates/app]
                output_path: app
              - input_type: jsonnet
                input_paths: [components/cfg/main.jsonnet]
                output_path: cfg
                output_type: yaml
        """,
    "inventory/classes/secret.yml": """\
        parameters:
          password: ?{base64:targets/${target_name}/db}
          kapitan:
            compile:
              - input_type: jinja2
                input_paths: [templates/secret]
                output_path: secret
        """,
    "inventory/classes/site/a.yml": "parameters:\n  env: dev\n  note: a\n",
    "inventory/classes/site/b.yml": "parameters:\n  env: prod\n  note: b\n",
    "inventory/classes/env/dev.yml": "parameters:\n  replicas: 1\n  tier: low\n",
    "inventory/classes/env/prod.yml": "classes: [.monitored]\nparameters:\n  replicas: 3\n",
    "inventory/classes/env/monitored.yml": "parameters:\n  tier: high\n  alerts: on\n",
    "inventory/classes/peers.yml": """\
        parameters:
          kapitan:
            compile:
              - input_type: jinja2
                input_paths: [templates/peers]
                output_path: peers
        """,
    "inventory/targets/t1.yml": "classes: [common, site.a, 'env.${env}', secret]\n",
    "inventory/targets/t2.yml": "classes: [common, site.b, 'env.${env}']\n",
    "inventory/targets/t3.yml":
        "classes: [common, site.a, 'env.${env}']\nparameters:\n  image: app:2\n",
    "inventory/targets/t4.yml": "classes: [common, site.b, 'env.${env}', secret]\n",
    "inventory/targets/reader.yml": "classes: [common, site.a, 'env.${env}', peers]\n",
    "templates/app/deploy.yml":
        "name: {{ target }}\nimage: {{ inventory.parameters.image }}\n"
        "replicas: {{ inventory.parameters.replicas }}\n",
    "templates/app/tier.txt": "{{ inventory.parameters.tier }}\n",
    "templates/secret/secret.yml": "password: {{ inventory.parameters.password }}\n",
    "templates/peers/peers.yml":
        "t1: {{ inventory_global['t1'].parameters.replicas }}\n",
    "components/cfg/main.jsonnet":
        "local lib = import 'lib.libsonnet';\n{ cfg: lib.make(std.extVar('target')) }\n",
    "components/cfg/lib.libsonnet": "{ make(env):: { env: env, v: 1 } }\n",
}
TARGETS = ["t1", "t2", "t3", "t4", "reader"]


def _bump(root: Path, rel: str, rng: random.Random) -> str:
    """Append or change something in a file; what was done."""
    path = root / rel
    n = rng.randrange(1000)
    if rel.endswith(".yml") and "inventory/" in rel:
        text = path.read_text()
        if "parameters:\n" not in text:
            text += "parameters:\n"
        key = rng.choice(["replicas", "image", "tier", "note", "unused"])
        value = f"app:{n}" if key == "image" else str(n)
        path.write_text(text + f"  {key}: {value}\n")
        return f"{rel}: {key}={value}"
    if rel.endswith(".libsonnet"):
        path.write_text(f"{{ make(env):: {{ env: env, v: {n} }} }}\n")
    elif rel.endswith(".jsonnet"):
        path.write_text(path.read_text().replace("}\n", f", n: {n} }}\n") if n % 2
                        else path.read_text() + f"// {n}\n")
    elif rel.startswith("refs/"):
        path.write_text(f"data: c2VjcmV0LXtu{n}\nencoding: original\ntype: base64\n")
    else:
        path.write_text(path.read_text() + f"line {n}\n")
    return f"{rel}: edited"


def _random_edit(root: Path, rng: random.Random) -> str:
    kind = rng.choice(["class", "class", "target", "template", "ref", "component",
                       "site", "new-target", "remove-target", "new-class", "stray"])
    if kind == "class":
        return _bump(root, rng.choice(sorted(
            str(p.relative_to(root)) for p in (root / "inventory/classes").rglob("*.yml"))), rng)
    if kind == "target":
        return _bump(root, f"inventory/targets/{rng.choice(TARGETS)}.yml", rng)
    if kind == "template":
        return _bump(root, rng.choice(["templates/app/deploy.yml", "templates/app/tier.txt",
                                       "templates/secret/secret.yml",
                                       "templates/peers/peers.yml"]), rng)
    if kind == "ref":
        return _bump(root, f"refs/targets/{rng.choice(['t1', 't4'])}/db", rng)
    if kind == "component":
        return _bump(root, rng.choice(["components/cfg/lib.libsonnet",
                                       "components/cfg/main.jsonnet"]), rng)
    if kind == "site":  # another site: another env, so env.${env} is another class
        target = rng.choice(TARGETS)
        path = root / f"inventory/targets/{target}.yml"
        text = path.read_text()
        path.write_text(text.replace("site.a", "site.@").replace("site.b", "site.a")
                        .replace("site.@", "site.b"))
        return f"{target}: other site"
    if kind == "new-target":
        name = f"n{rng.randrange(100)}"
        (root / f"inventory/targets/{name}.yml").write_text(
            "classes: [common, site.b, 'env.${env}']\n")
        return f"new target {name}"
    if kind == "remove-target":
        extra = sorted((root / "inventory/targets").glob("n*.yml"))
        if extra:
            extra[0].unlink()
            return f"removed {extra[0].name}"
        return "nothing to remove"
    if kind == "new-class":
        (root / f"inventory/classes/spare{rng.randrange(100)}.yml").write_text(
            "parameters:\n  replicas: 9\n")
        return "new unused class"
    (root / "NOTES.md").write_text(f"notes {rng.randrange(1000)}\n")
    return "stray file"


def _backdate(root: Path, step: int) -> None:
    """Sources as if edited a while ago: the cache records no input changed just
    before a compile (it may change again unseen), and here every edit is. Each
    step gets its own second, so git still sees what changed since the last."""
    old = time.time() - 1000 + 10 * step
    for path in root.rglob("*"):
        if path.is_file() and not {".git", "compiled", ".kcompile-cache"} & set(path.parts):
            os.utime(path, (old, old))


def _outputs(root: Path) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for rel, entry in snapshot(root / "compiled").items():
        target, _, rest = rel.partition("/")
        if rest:
            out.setdefault(target, {})[rest] = entry[0]
    return out


def _commit_all(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", message)


def random_run(root: Path, seed: int, steps: int) -> int:
    """Edit the random fleet at ``root`` at random ``steps`` times, compiling before and
    after; assert that no target whose output changed is missing from ``affected``.
    How many steps were answered with a list, not "all"."""
    write_tree(root, RANDOM_FLEET)
    for t in ("t1", "t4"):
        write_tree(root, {f"refs/targets/{t}/db":
                          "data: c2VjcmV0\nencoding: original\ntype: base64\n"})
    git(root, "init", "-q", "-b", "main")
    _backdate(root, 0)
    os.chdir(root)
    settings = settings_from({"parallelism": 2})
    compile_project(settings)
    commit(root, "fleet")
    rng = random.Random(seed)
    narrowed = 0
    for step in range(steps):
        before = _outputs(root)
        done = [_random_edit(root, rng) for _ in range(rng.choice([1, 1, 2]))]
        _backdate(root, step + 1)
        between_commits = rng.random() < 0.3
        compile_first = rng.random() < 0.3  # the cache then vouches for the head side
        if compile_first:
            compile_project(settings)
        if between_commits:
            _commit_all(root, f"step {step}")
            result = affected_between(settings, "HEAD~1", "HEAD")
        else:
            result = affected_between(settings, "HEAD", None)
        if not compile_first:
            compile_project(settings)
        after = _outputs(root)
        changed = {t for t in set(before) | set(after) if before.get(t) != after.get(t)}
        missed = changed - set(result.targets)
        assert not missed, (seed, step, done, result.everything, result.reasons, missed)
        narrowed += not result.everything
        if not between_commits:
            _commit_all(root, f"step {step}")
    return narrowed


def test_random_edits_never_escape_the_affected_set(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # Not "all" every time: the records do narrow it down.
    assert random_run(tmp_path / "fleet", seed=16, steps=12) >= 8


# -- graph --------------------------------------------------------------------

GRAPH_FLEET = {
    "inventory/classes/base.yml": "parameters:\n  env: prod\n",
    "inventory/classes/app/init.yml": "classes: [.web, base]\n",  # .web in app/init is web
    "inventory/classes/app/db.yml": "classes: [.cache]\n",  # .cache in app.db is app.cache
    "inventory/classes/app/cache.yml": "parameters: {}\n",
    "inventory/classes/web.yml": "parameters: {}\n",
    "inventory/classes/env/prod.yml": 'parameters:\n  label: "a \\"quoted\\" <name>"\n',
    "inventory/targets/one.yml": "classes: [base, 'env.${env}', app]\n",
    "inventory/targets/two.yml": "classes: [app.db]\n",
}

GRAPH_MERMAID = """\
```mermaid
flowchart LR
  t0(["one"])
  t1(["two"])
  c2["app"]
  c3["app.cache"]
  c4["app.db"]
  c5["base"]
  c6["env.prod"]
  c7["web"]
  t0 -->|1| c5
  t0 -->|2| c6
  t0 -->|3| c2
  t1 -->|1| c4
  c2 -->|1| c7
  c2 -->|2| c5
  c4 -->|1| c3
```
"""


def test_graph_mermaid_is_exact(tmp_path):
    root = write_tree(tmp_path / "g", GRAPH_FLEET)
    run = kcompile("graph", cwd=root)
    assert (run.code, run.out) == (0, GRAPH_MERMAID), run.err
    run = kcompile("graph", "-t", "two", cwd=root)
    assert run.out.splitlines()[2:] == ['  t0(["two"])', '  c1["app.cache"]', '  c2["app.db"]',
                                        "  t0 -->|1| c2", "  c2 -->|1| c1", "```"]
    run = kcompile("graph", "-t", "three", cwd=root)
    assert run.code == 2 and "target not found: three" in run.err


def test_graph_labels_are_escaped_for_mermaid_and_dot():
    from kapitan_lite.review.drawing import Drawing, Node, to_dot, to_mermaid

    d = Drawing([Node("a", 'x "y" <z> #1', "target"), Node("b", "p\\q", "file")],
                [("a", "b", "via x")])
    assert to_mermaid(d, fenced=False).splitlines()[1:] == [
        '  t0(["x #quot;y#quot; #lt;z#gt; #35;1"])', '  f1[/"p\\q"/]', '  t0 -->|"via x"| f1']
    assert '"a" [label="x \\"y\\" <z> #1"' in to_dot(d)
    assert '"b" [label="p\\\\q"' in to_dot(d)


@pytest.mark.skipif(shutil.which("dot") is None,
                    reason="Graphviz's dot is not installed (apt-get install graphviz)")
def test_graph_dot_and_svg_parse_with_graphviz(tmp_path):
    root = write_tree(tmp_path / "g", GRAPH_FLEET)
    run = kcompile("graph", "--format", "dot", cwd=root)
    assert run.code == 0
    assert '"target:one" -> "class:env.prod" [label="2"];' in run.out
    plain = subprocess.run(["dot", "-Tplain"], input=run.out, capture_output=True, text=True,
                           check=True).stdout
    nodes = sorted(line.split()[1].strip('"') for line in plain.splitlines()
                   if line.startswith("node "))
    assert nodes == ["class:app", "class:app.cache", "class:app.db", "class:base",
                     "class:env.prod", "class:web", "target:one", "target:two"]
    assert sum(line.startswith("edge ") for line in plain.splitlines()) == 7
    svg = kcompile("graph", "--format", "svg", cwd=root)
    assert svg.code == 0 and svg.out.lstrip().startswith("<?xml") and "</svg>" in svg.out


def test_graph_svg_without_dot_says_so(tmp_path):
    root = write_tree(tmp_path / "g", GRAPH_FLEET)
    bare = tmp_path / "bin"
    bare.mkdir()
    os.symlink(shutil.which("git") or "/usr/bin/git", bare / "git")
    run = kcompile("graph", "--format", "svg", cwd=root, env={"PATH": str(bare)})
    assert run.code == 2
    assert run.err == ("kcompile graph: --format svg needs Graphviz's dot, which is not "
                       "installed (apt-get install graphviz; or use --format mermaid)\n")


# -- the picture in diff's markdown ---------------------------------------------

def test_markdown_diff_draws_how_the_change_reaches_the_targets(fleet):
    edit(fleet / "inventory/classes/web.yml", "log_level: info", "log_level: warn")
    edit(fleet / "refs/targets/delta/db", "data: ", "data: QQ")
    md = kcompile("diff", "--format", "markdown", cwd=fleet).out
    start = md.index("```mermaid")
    assert md[start:md.index("```\n", start + 3) + 4] == """\
```mermaid
flowchart LR
  f0[/"inventory/classes/web.yml"/]
  f1[/"refs/targets/delta/db"/]
  c2["web"]
  t3(["alpha"])
  t4(["beta"])
  t5(["delta"])
  f0 --> c2
  f1 --> t5
  c2 --> t3
  c2 --> t4
```
"""
    assert md.index("| `delta`") < start < md.index("<summary><code>alpha</code>")
    # The picture counts against the comment's size like everything else.
    capped = kcompile("diff", "--format", "markdown", "--max-size", "2000", cwd=fleet).out
    assert len(capped) <= 2000 and "| `delta`" in capped and "Cut to stay under 2000" in capped


def test_change_picture_is_capped():
    from kapitan_lite.review.affected import Affected
    from kapitan_lite.review.pictures import change_picture

    reach = Affected([], causes={f"t{i}": [f"templates/x{i}.j2"] for i in range(5)},
                     reads={"t4": "t0"})
    drawing = change_picture(reach, [f"t{i}" for i in range(5)], max_edges=3)
    assert drawing.edges == [("file:templates/x0.j2", "target:t0", ""),
                             ("file:templates/x1.j2", "target:t1", ""),
                             ("file:templates/x2.j2", "target:t2", "")]
    assert drawing.note == "3 more links not drawn"
    assert [n.key for n in drawing.nodes] == ["file:templates/x0.j2", "file:templates/x1.j2",
                                              "file:templates/x2.j2", "target:t0", "target:t1",
                                              "target:t2"]
