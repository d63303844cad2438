"""``input_type: kustomize`` beyond the goldens: what Kapitan ignores or gets wrong, the binary
kcompile picks, and every error path.

Kapitan's own behaviour is pinned by the ``inputs_kustomize`` golden project
(tests/test_golden_parity.py). These tests run the real CLI; the builds run
the real ``kubectl kustomize`` (or ``kustomize``), except where a recording
stand-in checks which binary is run, and how.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import COMMON_CLASS, kcompile, write_tree
from test_golden_parity import EXPECTED_DIR, compare_output, copy_project, load_manifest
from tool_wrappers import read_log, recording_tool

needs_kustomize = pytest.mark.skipif(
    not (shutil.which("kustomize") or shutil.which("kubectl")),
    reason="needs kustomize or kubectl on PATH (these machines have kubectl)")

BASE = {
    "kustomize/base/kustomization.yaml": "resources: [deploy.yaml, role.yaml]\n",
    "kustomize/base/deploy.yaml": """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          replicas: 1
          template:
            spec:
              containers:
                - name: web
                  image: nginx:1
        """,
    "kustomize/base/role.yaml": """\
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata:
          name: reader
        rules: []
        """,
    # an overlay that reaches outside its own directory, as overlays do
    "kustomize/overlay/kustomization.yaml": "namePrefix: prod-\nresources: [../base]\n",
    # two Roles of one name, in two namespaces
    "kustomize/two-ns/kustomization.yaml": "resources: [roles.yaml]\n",
    "kustomize/two-ns/roles.yaml": """\
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {name: reader, namespace: blue}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {name: reader, namespace: green}
        """,
}


def _target(items: str) -> str:
    return "classes: [common]\nparameters:\n  kapitan:\n    compile:\n" + items


def _project(root: Path, targets: dict[str, str], extra: dict | None = None) -> Path:
    files = {"inventory/classes/common.yml": COMMON_CLASS, **BASE, **(extra or {})}
    files.update({f"inventory/targets/{name}.yml": _target(items) for name, items in targets.items()})
    return write_tree(root, files)


def _load(path: Path):
    return yaml.safe_load(path.read_text())


@needs_kustomize
def test_strategic_and_json_patches_overlays_and_namespaces(tmp_path):
    """patches_strategic and patches_json apply (Kapitan ignores them); an overlay's ../base
    resolves (Kapitan copies only the input dir); same-named objects of two namespaces both stay."""
    root = _project(tmp_path / "p", {"prod": """\
      - input_type: kustomize
        input_paths: [kustomize/overlay]
        output_path: app
        namespace: shop
        patches_strategic:
          replicas:
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec: {replicas: 4}
        patches_json:
          image:
            target: {kind: Deployment, name: web}
            patch:
              - {op: replace, path: /spec/template/spec/containers/0/image, value: "nginx:2"}
              - {op: add, path: /metadata/labels, value: {tier: front}}
      - input_type: kustomize
        input_paths: [kustomize/two-ns]
        output_path: roles
"""})
    run = kcompile(cwd=root)
    assert run.code == 0, run.err
    out = root / "compiled/prod"
    deploy = _load(out / "app/prod-web-deployment.yaml")
    assert deploy["metadata"] == {"name": "prod-web", "namespace": "shop", "labels": {"tier": "front"}}
    assert deploy["spec"]["replicas"] == 4
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"
    assert _load(out / "app/prod-reader-role.yaml")["metadata"]["namespace"] == "shop"
    # Kapitan would write both Roles to reader-role.yaml, the last one winning.
    assert sorted(os.listdir(out / "roles")) == ["reader-role-blue.yaml", "reader-role-green.yaml"]
    assert _load(out / "roles/reader-role-green.yaml")["metadata"]["namespace"] == "green"
    # PyYAML's default style, as Kapitan writes it: sorted keys, unindented lists.
    assert (out / "app/prod-reader-role.yaml").read_text() == (
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n"
        "  name: prod-reader\n  namespace: shop\nrules: []\n")


def _stand_in_path(tmp_path: Path, names: dict[str, dict]) -> tuple[str, Path]:
    """A PATH holding only recording stand-ins (``{name: recording_tool kwargs}``), and their log."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.jsonl"
    for name, kwargs in names.items():
        recording_tool(bin_dir / name, log, **kwargs)
    return str(bin_dir), log


RENDERED = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\n---\n" \
           "apiVersion: v1\nkind: Secret\nmetadata:\n  name: two\n"


def test_kustomize_on_path_wins_then_kubectl_then_kustomize_path(tmp_path):
    """``kustomize build DIR`` from PATH; without it ``kubectl kustomize DIR``; an item's
    ``kustomize_path`` over both."""
    items = """\
      - input_type: kustomize
        input_paths: [kustomize/base]
        output_path: out
        patches:
          scale:
            target: {kind: Deployment, name: web}
            patch: {apiVersion: apps/v1, kind: Deployment, metadata: {name: web}, spec: {replicas: 2}}
"""
    root = _project(tmp_path / "p", {"t": items})
    # 1. both on PATH: kustomize
    path, log = _stand_in_path(tmp_path / "both", {"kustomize": {"stdout": RENDERED},
                                                   "kubectl": {"code": 9}})
    run = kcompile(cwd=root, env={"PATH": path})
    assert run.code == 0, run.err
    (call,) = read_log(log)
    assert call["argv"][0] == "build" and len(call["argv"]) == 2
    assert sorted(os.listdir(root / "compiled/t/out")) == ["one-configmap.yaml", "two-secret.yaml"]
    # 2. only kubectl
    path, log = _stand_in_path(tmp_path / "kubectl", {"kubectl": {"stdout": RENDERED}})
    run = kcompile(cwd=root, env={"PATH": path})
    assert run.code == 0, run.err
    ((sub, build_dir),) = [c["argv"] for c in read_log(log)]
    assert sub == "kustomize" and os.path.isabs(build_dir)
    # 3. kustomize_path names the binary
    tool = recording_tool(tmp_path / "mine/my-kustomize", tmp_path / "mine.jsonl", stdout=RENDERED)
    write_tree(root, {"inventory/targets/t.yml": _target(items + f"        kustomize_path: {tool}\n")})
    run = kcompile(cwd=root, env={"PATH": path})
    assert run.code == 0, run.err
    assert [c["argv"][0] for c in read_log(tmp_path / "mine.jsonl")] == ["build"]
    assert len(read_log(log)) == 1  # kubectl not run again


def test_generated_kustomization_is_kapitans(tmp_path):
    """The stand-in sees the build dir: Kapitan's kustomization.yaml and one file per patch."""
    root = _project(tmp_path / "p", {"t": """\
      - input_type: kustomize
        input_paths: [kustomize/base]
        output_path: out
        namespace: ns1
        patches:
          scale:
            target: {kind: Deployment, name: web}
            patch: {apiVersion: apps/v1, kind: Deployment, metadata: {name: web}, spec: {replicas: 2}}
        patches_strategic:
          more: {apiVersion: apps/v1, kind: Deployment, metadata: {name: web}, spec: {paused: true}}
          shaped:
            target: {kind: Role}
            patch: {apiVersion: rbac.authorization.k8s.io/v1, kind: Role, metadata: {name: x}}
        patches_json:
          ops: {target: {kind: Role}, patch: [{op: remove, path: /rules}]}
"""})
    # The stand-in runs in the build dir (cd), so it lists the files kcompile wrote there.
    script = tmp_path / "bin/kustomize"
    recording_tool(tmp_path / "bin/record", tmp_path / "calls.jsonl", stdout=RENDERED)
    script.write_text(f'#!/bin/sh\ncd "$2" && exec {tmp_path}/bin/record "$@"\n')
    script.chmod(0o755)
    run = kcompile(cwd=root, env={"PATH": str(tmp_path / "bin")})
    assert run.code == 0, run.err
    (call,) = read_log(tmp_path / "calls.jsonl")
    files = call["files"]
    assert yaml.safe_load(files["kustomization.yaml"]) == {
        "namespace": "ns1",
        "resources": ["base"],
        "patches": [{"path": "scale.yaml", "target": {"kind": "Deployment", "name": "web"}},
                    {"path": "strategic-more.yaml"},
                    {"path": "strategic-shaped.yaml", "target": {"kind": "Role"}},
                    {"path": "json-ops.yaml", "target": {"kind": "Role"}}],
    }
    assert files["kustomization.yaml"].startswith("namespace: ns1\npatches:\n- path: scale.yaml\n")
    assert yaml.safe_load(files["scale.yaml"])["spec"] == {"replicas": 2}
    assert yaml.safe_load(files["json-ops.yaml"]) == [{"op": "remove", "path": "/rules"}]
    assert yaml.safe_load(files["strategic-shaped.yaml"])["metadata"] == {"name": "x"}
    assert call["links"] == {"base": str(root / "kustomize/base")}  # the input, in place


@needs_kustomize
def test_every_kustomize_problem_at_once(tmp_path):
    """Each failure is one located line naming the target and item, exit 2, compiled/ untouched."""
    bad = {
        # kustomize fails: a resource that does not exist
        "missing": "kustomize/missing-res",
        # kustomize fails: a JSON patch on a path that is not there
        "badpatch": "kustomize/base",
        "notdir": "kustomize/base/deploy.yaml",
        "nokust": "kustomize/empty",
        "nopatchtarget": "kustomize/base",
        "strategiclist": "kustomize/base",
        "jsondict": "kustomize/base",
        "nobinary": "kustomize/base",
        "taken": "kustomize/base",
    }
    extra_keys = {
        "badpatch": "        patches_json:\n          p: {target: {kind: Deployment}, patch: "
                    "[{op: replace, path: /spec/nothere/x, value: 1}]}\n",
        "nopatchtarget": "        patches:\n          p: {patch: {kind: Deployment}}\n",
        "strategiclist": "        patches_strategic:\n          p: [1, 2]\n",
        "jsondict": "        patches_json:\n          p: {target: {kind: Role}, patch: {op: x}}\n",
        "nobinary": "        kustomize_path: /nonexistent/kustomize\n",
        "taken": "        patches:\n          kustomization: {target: {kind: Role}, patch: []}\n",
    }
    targets = {name: f"""\
      - input_type: kustomize
        input_paths: [{path}]
        output_path: out
""" + extra_keys.get(name, "") for name, path in bad.items()}
    root = _project(tmp_path / "p", targets, {
        "kustomize/missing-res/kustomization.yaml": "resources: [nothere.yaml]\n",
        "kustomize/empty/README": "no kustomization here\n",
    })
    run = kcompile(cwd=root)
    assert run.code == 2, run.err
    lines = {line.split(": ")[1]: line for line in run.err_lines[:-1]}
    assert set(lines) == set(bad), run.err
    for name, line in lines.items():
        assert line.startswith(f"inventory/targets/{name}.yml:"), line
        assert f"{name}: kustomize {bad[name]}: " in line
    assert "accumulating resources" in lines["missing"] and "nothere.yaml" in lines["missing"]
    assert "exited with 1: E1" not in lines["missing"] and "command failed" not in lines["missing"]
    assert "exited with 1" in lines["badpatch"]
    assert lines["notdir"].endswith("kustomize kustomize/base/deploy.yaml: not a directory")
    assert "holds no kustomization.yaml" in lines["nokust"]
    assert "patches.p: needs 'target' and 'patch'" in lines["nopatchtarget"]
    assert "patches_strategic.p: a strategic merge patch is a mapping" in lines["strategiclist"]
    assert "patches_json.p: patch must be a list" in lines["jsondict"]
    assert "kustomize binary '/nonexistent/kustomize' not found" in lines["nobinary"]
    assert "patches.kustomization: its patch file kustomization.yaml is taken" in lines["taken"]
    assert run.err_lines[-1] == "kcompile: 9 problems; compiled/ left unchanged"
    assert not (root / "compiled").exists()


def test_first_line_of_kustomizes_error_and_no_binary(tmp_path):
    """kustomize's own first error line (warnings skipped); no kustomize nor kubectl: say so."""
    root = _project(tmp_path / "p", {"t": """\
      - input_type: kustomize
        input_paths: [kustomize/base]
        output_path: out
"""})
    stderr = ("# Warning: 'bases' is deprecated. Please use 'resources' instead.\n"
              "Error: trouble in the kustomization\n  with details on the next line\n")
    path, _ = _stand_in_path(tmp_path, {"kustomize": {"stderr": stderr, "code": 1}})
    run = kcompile(cwd=root, env={"PATH": path})
    assert run.code == 2
    assert run.err_lines[0].startswith("inventory/targets/t.yml:")
    assert run.err_lines[0].endswith(
        ": t: kustomize kustomize/base: kustomize build exited with 1: "
        "trouble in the kustomization")
    empty = tmp_path / "nothing"
    empty.mkdir()
    run = kcompile(cwd=root, env={"PATH": str(empty)})
    assert run.code == 2
    assert "t: kustomize kustomize/base: neither kustomize nor kubectl is on PATH" in run.err_lines[0]


@pytest.mark.skipif(not shutil.which("kubectl"), reason="needs kubectl on PATH")
def test_kubectl_alone_gives_kapitans_goldens(tmp_path):
    """With kubectl and no kustomize on PATH, the golden project still compiles to Kapitan's bytes."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").symlink_to(shutil.which("kubectl"))
    work = copy_project("inputs_kustomize", tmp_path / "work")
    run = kcompile(cwd=work, env={"PATH": str(bin_dir)})
    assert run.code == 0, run.err
    compare_output(work / "compiled", load_manifest("inputs_kustomize")["entries"],
                   EXPECTED_DIR / "inputs_kustomize" / "compiled")
