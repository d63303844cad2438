"""kcompile validate (and kcompile --validate) on a real compile, with the real bundled schemas."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import COMMON_CLASS, content, kcompile, write_tree

pytest.importorskip("kubernetes_validate", reason="the validate extra is not installed")
jsonschema = pytest.importorskip("jsonschema")


def _newest() -> str:
    from kapitan_lite.validate.schemas import bundled_root, bundled_versions

    major, minor = bundled_versions(bundled_root())[-1]
    return f"{major}.{minor}"


NEWEST = _newest()  # the newest Kubernetes version the installed kubernetes-validate bundles

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: web
          image: nginx
          {extra}
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  ports:
    - name: http
      port: {port}
"""
CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [size]
              properties:
                size: {type: integer}
"""
WIDGETS = """\
apiVersion: example.com/v1
kind: Widget
metadata:
  name: good
spec:
  size: 3
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: bad
spec:
  size: big
"""
CONFIGMAP_JSON = """\
{
  "apiVersion": "v1",
  "kind": "ConfigMap",
  "metadata": {"name": "cm"},
  "data": {
    "a": 1
  }
}
"""
GADGET = "apiVersion: example.org/v1\nkind: Gadget\nmetadata:\n  name: g\n"


def fleet(root: Path, replicas: str = "'three'", port: str = '"http"',
          extra: str = "imagePullPolicyy: Always", widgets: str = WIDGETS,
          more: dict | None = None) -> Path:
    """Target ``app`` (a Deployment, a Service, Widgets and a Gadget), target ``crds`` (the CRD)."""
    return write_tree(root, {
        **(more or {}),
        "inventory/classes/common.yml": COMMON_CLASS + """\
    compile:
      - input_type: copy
        input_paths:
          - files/${target_name}
        output_path: .
""",
        "inventory/targets/app.yml": "classes: [common]\n",
        "inventory/targets/crds.yml": "classes: [common]\n",
        "files/app/deploy.yml": DEPLOY.format(replicas=replicas, extra=extra),
        "files/app/service.yml": SERVICE.format(port=port),
        "files/app/widgets.yml": widgets,
        "files/app/gadget.yml": GADGET,
        "files/app/README.md": "not YAML: not validated\n",
        "files/crds/crd.yml": CRD,
    })


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fleet, compiled once for the tests that only read it."""
    root = fleet(tmp_path_factory.mktemp("validate") / "p",
                 more={"files/crds/cm.json": CONFIGMAP_JSON})
    run = kcompile(cwd=root)
    assert run.code == 0, run.err
    return root


def test_each_problem_at_the_line_of_its_field(compiled: Path) -> None:
    run = kcompile("validate", cwd=compiled)
    assert run.code == 1, run.err
    assert run.out.splitlines() == [
        "compiled/app/deploy.yml:7: Deployment/shop/web: spec.replicas: 'three' is not of type 'integer'",
        "compiled/app/deploy.yml:17: Deployment/shop/web: spec.template.spec.containers[0]."
        "imagePullPolicyy: unknown field (--no-strict allows it)",
        "compiled/app/gadget.yml:2: Gadget/g: warning: no schema for example.org/v1 Gadget "
        f"(Kubernetes {NEWEST}, no CRD in compiled/ or --schemas)",
        "compiled/app/service.yml:9: Service/shop/web: spec.ports[0].port: 'http' is not of type 'integer'",
        "compiled/app/widgets.yml:13: Widget/bad: spec.size: 'big' is not of type 'integer'",
        "compiled/crds/cm.json:6: ConfigMap/cm: data.a: 1 is not of type 'string'",
    ]
    assert re.search(r"7 objects in 6 files(, \d+ unchanged \(cache\))?: 5 errors, 1 warning",
                     run.err)
    again = kcompile("validate", cwd=compiled)  # from the results kept: the same report
    assert (again.code, again.out) == (1, run.out) and "6 unchanged (cache)" in again.err


def test_no_strict_allows_unknown_fields_and_strict_kinds_fails_unknown_kinds(compiled: Path) -> None:
    lax = kcompile("validate", "--no-strict", "-t", "app", cwd=compiled)
    assert "imagePullPolicyy" not in lax.out and "replicas" in lax.out
    strict = kcompile("validate", "--strict-kinds", "-t", "app", cwd=compiled)
    assert "compiled/app/gadget.yml:2: Gadget/g: no schema for example.org/v1 Gadget" in strict.out
    assert "5 errors, 0 warnings" in strict.err


def test_a_clean_tree_passes_and_is_not_validated_again(tmp_path: Path) -> None:
    root = fleet(tmp_path / "p", replicas="3", port="80", extra="", widgets=WIDGETS.split("---")[0])
    (root / "files/app/gadget.yml").unlink()
    assert kcompile(cwd=root).code == 0
    first = kcompile("validate", "--kubernetes-version", "1.30", cwd=root)
    assert (first.code, first.out) == (0, ""), first.err
    assert "4 objects in 4 files: 0 errors, 0 warnings" in first.err
    second = kcompile("validate", "--kubernetes-version", "1.30", cwd=root)
    assert "4 unchanged (cache)" in second.err and second.code == 0
    other = kcompile("validate", "--kubernetes-version", "1.31", cwd=root)
    assert "unchanged (cache)" not in other.err  # another version is another validation


def test_version_from_the_inventory_and_bad_versions(compiled: Path, tmp_path: Path) -> None:
    compiled = Path(shutil.copytree(compiled, tmp_path / "copy"))
    (compiled / "inventory/targets/app.yml").write_text(
        "classes: [common]\nparameters:\n  kapitan:\n    validate:\n"
        "      - type: kubernetes\n        version: 1.26.0\n        output_paths: [deploy.yml]\n")
    run = kcompile("validate", "-t", "app", cwd=compiled)
    assert "Kubernetes 1.26" not in run.out  # the Gadget is in another file: newest version
    assert f"Kubernetes {NEWEST}" in run.out
    bad = kcompile("validate", "--kubernetes-version", "1.99", cwd=compiled)
    assert bad.code == 2
    assert bad.err_lines[0].startswith("--kubernetes-version: no schemas for Kubernetes 1.99")


def test_schemas_dir_gives_a_kind_its_schema(compiled: Path, tmp_path: Path) -> None:
    extra = write_tree(tmp_path / "schemas", {"gadget.yml": CRD.replace("example.com", "example.org")
                                              .replace("Widget", "Gadget").replace("widgets", "gadgets")})
    run = kcompile("validate", "-t", "app", "--schemas", str(extra), cwd=compiled)
    assert "Gadget" not in run.out
    assert "compiled/app/widgets.yml:13" in run.out  # the tree's own CRD still counts


def test_sarif_and_json(compiled: Path) -> None:
    sarif = kcompile("validate", "--format", "sarif", cwd=compiled)
    assert sarif.code == 1
    log = json.loads(sarif.out)
    schema = json.loads((Path(__file__).parent / "data" / "sarif-2.1.0-subset.json").read_text())
    jsonschema.Draft7Validator(schema).validate(log)
    results = log["runs"][0]["results"]
    assert [(r["locations"][0]["physicalLocation"]["region"]["startLine"], r["level"])
            for r in results] == [(7, "error"), (17, "error"), (2, "warning"), (9, "error"),
                                  (13, "error"), (6, "error")]
    assert results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "compiled/app/deploy.yml"
    data = json.loads(kcompile("validate", "--format", "json", cwd=compiled).out)
    assert data["errors"] == 5 and data["findings"][0]["object"] == "Deployment/shop/web"


def test_compile_validate_refuses_invalid_output_and_leaves_compiled_as_it_was(tmp_path: Path) -> None:
    root = fleet(tmp_path / "p", replicas="3", port="80", extra="", widgets=WIDGETS.split("---")[0])
    ok = kcompile("--validate", cwd=root)
    assert ok.code == 0, ok.err
    assert "warning: no schema for example.org/v1 Gadget" in ok.err
    before = content(root / "compiled")
    (root / "files/app/deploy.yml").write_text(DEPLOY.format(replicas="'three'", extra=""))
    (root / "files/app/widgets.yml").write_text(WIDGETS)
    run = kcompile("--validate", cwd=root)
    assert run.code == 2
    assert [line for line in run.err_lines if "warning" not in line][:2] == [
        "compiled/app/deploy.yml:7: Deployment/shop/web: spec.replicas: 'three' is not of type 'integer'",
        "compiled/app/widgets.yml:13: Widget/bad: spec.size: 'big' is not of type 'integer'",
    ]
    assert run.err_lines[-1] == "kcompile: 2 problems; compiled/ left unchanged"
    assert content(root / "compiled") == before
    assert kcompile(cwd=root).code == 0  # without --validate it compiles


def test_without_the_extra_one_clear_line(compiled: Path) -> None:
    import subprocess
    import sys

    code = ("import sys; sys.modules['kubernetes_validate'] = None; "
            "from kapitan_lite.cli import main; main(['validate'])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=compiled, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == ("kcompile validate needs the validate extra: "
                                           "pip install 'kapitan-lite[validate]'")


def test_the_fast_path_agrees_with_jsonschema_on_broken_objects() -> None:
    """The fast validator only answers "valid": it must never pass what jsonschema rejects."""
    import copy
    import random

    import yaml

    from kapitan_lite.validate.check import Validator
    from kapitan_lite.validate.schemas import Bundled, bundled_root, bundled_versions

    pytest.importorskip("fastjsonschema")
    rnd = random.Random(7)
    base = yaml.safe_load(DEPLOY.format(replicas="3", extra="ports: [{containerPort: 80}]"))
    validator = Validator(Bundled(bundled_root(), bundled_versions(bundled_root())[-1], True).get("apps/v1", "Deployment"))
    assert validator.fast_verdict(base) is True and validator.violations(base) == []

    def spots(node, path=()):
        yield path
        items = node.items() if isinstance(node, dict) else \
            enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            yield from spots(value, (*path, key))

    places = [p for p in spots(base) if len(p) > 1]
    rejected = 0
    for _ in range(150):
        obj = copy.deepcopy(base)
        path = rnd.choice(places)
        parent = obj
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = rnd.choice(["zzz", 7, {"a": [1]}, [], None])
        if isinstance(parent, dict) and rnd.random() < 0.3:
            parent["bogusField"] = 1
        broken = validator.violations(obj) != []
        rejected += broken
        assert validator.fast_verdict(obj) is not broken, (path, obj)
    assert rejected > 50
