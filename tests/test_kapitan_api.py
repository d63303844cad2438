"""Kapitan's Python API (kapitan_lite/kapitan_api): per-run state and its errors.

Byte parity with Kapitan for the whole surface is in the goldens
(tests/golden/projects/kapitan_api, kapitan_api_helm); these tests cover what
a golden can't: nothing carries over between targets of one worker process,
and misuse gives a located error.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import kcompile, write_tree

TARGET = """\
parameters:
  target_name: ${{_reclass_:name:short}}
  kapitan:
    vars:
      target: ${{target_name}}
    compile:
      - input_type: kadet
        input_paths: [components/c]
        output_path: .
        output_type: json
{extra}"""

LEAKY = '''\
from kapitan.cached import args
from kapitan.inputs.kadet import current_target, inventory, inventory_global, search_paths


def main():
    seen = {
        "target": current_target.get(),
        "args_search_paths": list(args.search_paths),
        "lazy": bool(inventory(lazy=True).parameters.missing),  # lazy=True fixed for the run?
        "absolute": all(p.startswith("/") for p in search_paths.get()),
        # As in Kapitan, the first call's lazy=True holds for the rest of the run.
        "first_call_wins": isinstance(inventory().parameters.nothing, dict),
        "before": inventory().parameters.get("leaked", False),
        "global_before": inventory_global()["a"].parameters.kapitan.get("also", 0),
    }
    # Try to leave state behind for the next target of this process.
    args.search_paths.append("leaked")
    inventory().parameters["leaked"] = True
    inventory_global()[current_target.get()].parameters.kapitan["also"] = 1
    seen["leaked_here"] = inventory().parameters.get("leaked", False)
    return {"seen": seen}
'''


def project(root: Path, component: str, targets: tuple[str, ...] = ("a", "b"),
            extra: str = "") -> Path:
    files = {"components/c/__init__.py": component, "inventory/classes/.keep": ""}
    for name in targets:
        files[f"inventory/targets/{name}.yml"] = TARGET.format(extra=extra)
    return write_tree(root, files)


def test_no_state_carries_over_between_targets_of_one_process(tmp_path):
    project(tmp_path, LEAKY, targets=("a", "b", "c"))
    run = kcompile("-p", "1", cwd=tmp_path)
    assert run.code == 0, run.err
    for name in ("a", "b", "c"):
        seen = json.loads((tmp_path / "compiled" / name / "seen.json").read_text())
        assert seen == {"target": name, "args_search_paths": [".", "lib"], "lazy": False,
                        "absolute": True, "first_call_wins": True, "before": False,
                        "global_before": 0, "leaked_here": True}, (name, seen)


def test_resources_inventory_needs_an_existing_inventory_path(tmp_path):
    project(tmp_path, '''\
from kapitan.resources import inventory


def main():
    return {"x": inventory([], None, "no/such/inventory")}
''', targets=("a",))
    run = kcompile(cwd=tmp_path)
    assert run.code == 2
    assert ("components/c/__init__.py:5: a: InventoryError: Inventory not found in search "
            "paths: []") in run.err, run.err


def test_render_jinja2_file_errors_name_the_template(tmp_path):
    project(tmp_path, '''\
from kapitan.utils import render_jinja2_file


def main():
    return {"x": {"text": render_jinja2_file("templates/t.j2", {})}}
''', targets=("a",))
    write_tree(tmp_path, {"templates/t.j2": "line one\n{{ nope }}\n"})
    run = kcompile(cwd=tmp_path)
    assert run.code == 2
    assert "a: CompileError: Jinja2 TemplateError: 'nope' is undefined, at templates/t.j2:2" \
        in run.err, run.err


def test_api_outside_a_component_run_says_so(tmp_path):
    code = ("from kapitan_lite.kapitan_api import cached\n"
            "try:\n"
            "    cached.args\n"
            "except RuntimeError as exc:\n"
            "    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path).stdout
    assert "only works while kcompile runs a component" in out


def test_kapitan_lite_kadet_is_kapitans_kadet_module():
    code = ("import kapitan_lite.kadet as a\n"
            "from kapitan_lite import kadet as b\n"
            "from kapitan_lite.kapitan_api.inputs import kadet as c\n"
            "assert a is b is c\n"
            "assert callable(a.search_paths) and callable(a.search_paths.get)\n")
    subprocess.run([sys.executable, "-c", code], check=True)


CHART = {
    "charts/c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
    "charts/c/templates/cm.yaml": ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                                   "  name: {{ .Release.Name }}\n"
                                   "  namespace: {{ .Release.Namespace }}\n"),
}

CHARTS = '''\
from kapitan.inputs.helm import HelmChart
from kapitan.inputs.kadet import current_target


def main():
    out = {}
    if current_target.get() == "a":  # only a's first chart asks for a namespace
        out["first"] = HelmChart(chart_dir="charts/c",
                                 helm_params={"name": "first", "namespace": "ns-a"})
    out["second"] = HelmChart(chart_dir="charts/c", helm_params={"name": "second"})
    return {k: v.root["%s-configmap" % k] for k, v in out.items()}
'''


@pytest.mark.skipif(shutil.which("helm") is None, reason="needs a helm binary on PATH "
                    "(.ci/run installs one)")
def test_helmchart_flags_carry_over_within_a_run_only(tmp_path):
    project(tmp_path, CHARTS)
    write_tree(tmp_path, CHART)
    run = kcompile("-p", "1", cwd=tmp_path)
    assert run.code == 0, run.err

    def namespace(target: str, name: str) -> str:
        doc = json.loads((tmp_path / "compiled" / target / f"{name}.json").read_text())
        return doc["metadata"]["namespace"]

    # As in Kapitan, a's second chart inherits the first one's --namespace...
    assert namespace("a", "first") == namespace("a", "second") == "ns-a"
    # ...but nothing reaches target b, compiled next in the same process.
    assert namespace("b", "second") == "default"
