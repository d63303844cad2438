"""kcompile lint: each rule tripped exactly once by a fleet built for it, a clean fleet, the
repo's own example fleet, .kapitan rule switches, and the json/sarif outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO, kcompile, write_tree

from kapitan_lite.lint.rules import RULES, rule_table
from kapitan_lite.lint.yaml_rules import lint_yaml_file

REF = "data: aHVudGVyMg==\nencoding: original\ntype: base64\n"

CLEAN = {
    "inventory/classes/common.yml": """\
        parameters:
          app:
            name: web
            replicas: 1
            port: 8080
            kad_only: 7
            password: ?{base64:targets/${_reclass_:name:short}/pw}
            labels: ${labels}
          labels:
            team: shop
          kapitan:
            vars:
              target: ${_reclass_:name:short}
            labels:
              team: shop
            compile:
              - input_type: jinja2
                input_paths: [templates/app.yml]
                output_path: .
              - input_type: kadet
                input_paths: [components/kad]
                output_path: kad
        """,
    "inventory/targets/t1.yml": """\
        classes:
          - common
        parameters:
          app:
            replicas: 2
        """,
    "inventory/targets/t2.yml": """\
        classes:
          - common
        """,
    "templates/app.yml": """\
        {% set a = inventory.parameters.app %}
        name: {{ a.name }}
        replicas: {{ a.replicas }}
        password: {{ a.password }}
        labels: {{ a.labels | tojson }}
        {% for k, v in a.get("extra", {}).items() %}{{ k }}{% endfor %}
        """,
    "components/kad/__init__.py": """\
        from kapitan.inputs import kadet


        def main(input_params):
            p = kadet.inventory().parameters
            return {"x": {"port": p.app.port, "kad": p.app.get("kad_only")}}
        """,
    "refs/targets/t1/pw": REF,
    "refs/targets/t2/pw": REF,
}

# Each addition trips one rule once: (files to add or replace, files to delete).
BAD_FILES = {
    "inventory/classes/orphan.yml": "parameters: {}\n",  # unused-class
    "inventory/classes/extra.yml": """\
        parameters:
          app:
            size: small
            image: ${app:name}
            ~volumes: []
            unused_knob: 5
          # aws_access_key_id: AKIAIOSFODNN7EXAMPLE
        """,
    "inventory/targets/t1.yml": """\
        classes:
          - common
          - extra
        parameters:
          app:
            replicas: 2
            size: large
            image: nginx
        """,
    "inventory/targets/t2.yml": """\
        classes:
          - common
          - extra
          - common
        parameters:
          app:
            size: large
            image: nginx
        """,
    "inventory/targets/t3.yml": "parameters: {}\n",  # unlabelled-target
    "refs/targets/orphan/pw": REF,  # unused-ref-file
    "templates/app.yml": CLEAN["templates/app.yml"]
    + "size: {{ inventory.parameters.app.size }}\nimage: {{ inventory.parameters.app.image }}\n"
    + "volumes: {{ inventory.parameters.app.volumes }}\n",
}
BAD_DELETE = ["refs/targets/t2/pw"]  # missing-ref-file

EXPECTED = {
    "unused-class": "inventory/classes/orphan.yml:1",
    "duplicate-include": "inventory/targets/t2.yml:4",
    "dead-value": "inventory/classes/extra.yml:3",
    "dead-reference": "inventory/classes/extra.yml:4",
    "override-nothing": "inventory/classes/extra.yml:5",
    "unused-ref-file": "refs/targets/orphan/pw:1",
    "missing-ref-file": "inventory/classes/common.yml:7",
    "unlabelled-target": "inventory/targets/t3.yml:1",
    "unread-parameter": "inventory/classes/extra.yml:6",
    "plaintext-secret": "inventory/classes/extra.yml:7",
}


def _bad(root: Path) -> Path:
    write_tree(root, {**CLEAN, **BAD_FILES})
    for rel in BAD_DELETE:
        (root / rel).unlink()
    return root


def _findings(run) -> list[dict]:
    return json.loads(run.out)["findings"]


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory):
    root = _bad(tmp_path_factory.mktemp("bad"))
    return kcompile("lint", "--search-secrets", "--format", "json", cwd=root)


def test_clean_fleet_trips_nothing(tmp_path):
    write_tree(tmp_path, CLEAN)
    run = kcompile("lint", "--search-secrets", cwd=tmp_path)
    assert (run.code, run.out) == (0, ""), run.err
    assert "kcompile lint: no findings" in run.err


@pytest.mark.parametrize("rule", sorted(EXPECTED))
def test_rule_trips_once(bad_run, rule):
    assert bad_run.code == 1, bad_run.err
    got = [f for f in _findings(bad_run) if f["rule"] == rule]
    assert [f"{f['path']}:{f['line']}" for f in got] == [EXPECTED[rule]], got


def test_bad_fleet_trips_nothing_else(bad_run):
    assert sorted(f["rule"] for f in _findings(bad_run)) == sorted(EXPECTED)


def test_findings_name_both_places(bad_run):
    by_rule = {f["rule"]: f["message"] for f in _findings(bad_run)}
    assert "by inventory/targets/t1.yml:7, inventory/targets/t2.yml:7" in by_rule["dead-value"]
    assert "app:unused_knob" in by_rule["unread-parameter"]
    assert "already listed at line 2" in by_rule["duplicate-include"]
    assert "AWS access key" in by_rule["plaintext-secret"]


def test_text_output_is_one_line_per_finding_in_order(tmp_path):
    root = _bad(tmp_path)
    run = kcompile("lint", cwd=root)
    assert run.code == 1
    lines = run.out.splitlines()
    assert lines == sorted(lines, key=lambda s: (s.split(":")[0], int(s.split(":")[1])))
    assert "inventory/targets/t3.yml:1: unlabelled-target: target t3 has no labels" in run.out
    assert not any("plaintext-secret" in line for line in lines)  # only with --search-secrets
    assert kcompile("lint", "--warn-only", cwd=root).code == 0


def test_dotkapitan_disables_and_enables_rules(tmp_path):
    root = _bad(tmp_path)
    (root / ".kapitan").write_text("lint:\n  disable: [unused-class, dead-value]\n"
                                   "  enable: [plaintext-secret]\n")
    rules = {f["rule"] for f in _findings(kcompile("lint", "--format", "json", cwd=root))}
    assert rules == set(EXPECTED) - {"unused-class", "dead-value"}
    (root / ".kapitan").write_text("lint:\n  disable: [no-such-rule]\n")
    run = kcompile("lint", cwd=root)
    assert run.code == 2
    assert ".kapitan:2: lint.disable: unknown rule 'no-such-rule'" in run.err


def test_sarif_output(tmp_path):
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema comes with the jsonnet extra")
    root = _bad(tmp_path)
    run = kcompile("lint", "--format", "sarif", "--search-secrets", cwd=root)
    assert run.code == 1
    log = json.loads(run.out)
    schema = json.loads((Path(__file__).parent / "data" / "sarif-2.1.0-subset.json").read_text())
    jsonschema.Draft7Validator(schema).validate(log)
    results = log["runs"][0]["results"]
    assert len(results) == len(EXPECTED)
    rules = [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]]
    assert rules == list(RULES)
    first = results[0]
    assert rules[first["ruleIndex"]] == first["ruleId"]
    assert first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].startswith("inventory/")


def test_unresolvable_target_is_a_finding(tmp_path):
    write_tree(tmp_path, {**CLEAN, "inventory/targets/t2.yml": "classes: [common]\n"
                          "parameters:\n  x: ${nope}\n"})
    run = kcompile("lint", "--format", "json", cwd=tmp_path)
    assert run.code == 1
    got = _findings(run)
    assert [(f["rule"], f["path"], f["line"]) for f in got] == [
        ("inventory-error", "inventory/targets/t2.yml", 3)]


@pytest.mark.parametrize(("text", "rule", "line"), [
    ("a:\n  b: 1\n\tc: 2\n", "yaml-tab", 3),
    ("a:\n  b: 1\n  b: 2\n", "yaml-duplicate-key", 3),
    ("a:\n  b:\n    c: 1\n  d:\n     e: 2\n", "yaml-indentation", 5),
    ("a:\n  b: 1\n c: 2\n", "yaml-syntax", 3),
])
def test_yaml_rules(tmp_path, text, rule, line):
    path = tmp_path / "x.yml"
    path.write_text(text)
    got = lint_yaml_file(str(path))
    assert [(f.rule, f.line) for f in got] == [(rule, line)], got
    assert lint_yaml_file(str(REPO / "inventory/classes/common.yml")) == []


def test_readme_lists_every_rule():
    assert rule_table() in (REPO / "README.md").read_text()


def test_example_fleet_lints_clean():
    run = kcompile("lint", "--search-secrets", cwd=REPO)
    assert (run.code, run.out) == (0, ""), run.out + run.err
    assert "jsonnet components/slo/slo.jsonnet" in run.err  # reads it can't see are said


def test_include_already_pulled_in_by_an_earlier_class(tmp_path):
    write_tree(tmp_path, {**CLEAN,
                          "inventory/classes/base.yml": "classes:\n  - common\n",
                          "inventory/targets/t2.yml": "classes:\n  - base\n  - common\n"})
    run = kcompile("lint", "--format", "json", cwd=tmp_path)
    assert [(f["rule"], f["path"], f["line"]) for f in _findings(run)] == [
        ("duplicate-include", "inventory/targets/t2.yml", 3)]
    assert "already included by base (line 2)" in _findings(run)[0]["message"]


def test_dead_value_agrees_with_explain(tmp_path):
    root = _bad(tmp_path)
    for target in ("t1", "t2"):
        exp = json.loads(kcompile("explain", "-t", target, "app.size", "--format", "json",
                                  cwd=root).out)
        marks = [(c["file"], c["line"], c["overridden"]) for c in exp["contributions"]]
        assert marks[0] == ("inventory/classes/extra.yml", 3, True)
        assert marks[-1][2] is False


def test_yaml_error_is_said_once(tmp_path):
    write_tree(tmp_path, {**CLEAN, "inventory/classes/common.yml": "parameters:\n  a: 1\n b: 2\n"})
    run = kcompile("lint", "--format", "json", cwd=tmp_path)
    assert [(f["rule"], f["path"], f["line"]) for f in _findings(run)] == [
        ("yaml-syntax", "inventory/classes/common.yml", 3)]
    assert "not checked" in run.err
    (tmp_path / ".kapitan").write_text("lint:\n  disable: [yaml-syntax]\n")
    run = kcompile("lint", "--format", "json", cwd=tmp_path)
    assert {(f["rule"], f["path"], f["line"]) for f in _findings(run)} == {
        ("inventory-error", "inventory/classes/common.yml", 3)}


def test_template_and_kadet_reads():
    from kapitan_lite.lint.reads_jinja import template_reads
    from kapitan_lite.lint.reads_kadet import module_reads

    reads, imported = template_reads(
        '{% import "lib/m.j2" as m %}{% set p = inventory.parameters %}{% set a = p.app %}'
        '{{ a.name }}{{ a.port | int }}{{ p["db"]["host"] }}{{ m.f(p.labels) }}'
        '{% for k, v in a.env.items() %}{% endfor %}{{ inventory_global["x"].parameters.g }}'
        '{{ a.get("opt") }}{{ a.name.upper() }}')
    assert sorted(reads.paths) == [("app", "env"), ("app", "name"), ("app", "name", "upper"),
                                   ("app", "opt"), ("app", "port"), ("db", "host"), ("g",),
                                   ("labels",)]
    assert imported == ["lib/m.j2"] and not reads.everything
    reads = module_reads(
        "from kapitan.inputs import kadet\n"
        "def main(input_params):\n"
        "    inv = kadet.inventory()\n"
        "    p = inv.parameters\n"
        "    flows = p.netpol.flows\n"
        "    labels = dict(p.common_labels)\n"
        "    for c in flows.cidrs:\n"
        "        pass\n"
        "    return {'a': flows.ns, 'b': p['db'].get('port'), 'c': inv.classes}\n", "m.py")
    assert sorted(reads.paths) == [("common_labels",), ("db", "port"), ("netpol", "flows", "cidrs"),
                                   ("netpol", "flows", "ns")]
    assert module_reads("import kadet\nx = kadet.inventory()\nf(x)\n", "w.py").everything
