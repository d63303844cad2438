"""kadet, jsonnet, external, remove and helm inputs: behaviour and located errors.

Byte parity with Kapitan is in the goldens (tests/golden/projects/{kadet,jsonnet,
external_remove,output_opts}); these tests cover what Kapitan can't produce
goldens for: errors, helm, the Kapitan import shim, and our deliberate fixes.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from conftest import kcompile, write_tree

COMMON = {
    "inventory/classes/common.yml": """\
        parameters:
          target_name: ${_reclass_:name:short}
          kapitan:
            vars:
              target: ${target_name}
        """,
}


def project(tmp_path: Path, compile_yaml: str, files: dict[str, str], params: str = "") -> Path:
    """A project with one target ``t`` whose compile list is ``compile_yaml``."""
    target = "classes:\n  - common\nparameters:\n" + params + "  kapitan:\n    compile:\n"
    target += "".join(f"      {line}\n" for line in compile_yaml.strip("\n").splitlines())
    write_tree(tmp_path, {**COMMON, **files})
    (tmp_path / "inventory/targets").mkdir(parents=True, exist_ok=True)
    (tmp_path / "inventory/targets/t.yml").write_text(target)
    return tmp_path


def kadet_item(path: str = "components/c", output_type: str = "yaml", extra: str = "") -> str:
    return (f"- input_type: kadet\n  input_paths: [{path}]\n  output_path: out\n"
            f"  output_type: {output_type}\n{extra}")


# ---------------------------------------------------------------- kadet


def test_kadet_error_names_component_file_and_line(tmp_path):
    project(tmp_path, kadet_item(), {"components/c/__init__.py": """\
        def helper(x):
            return x["missing"]


        def main():
            return {"a": helper({})}
        """})
    run = kcompile(cwd=tmp_path)
    assert run.code == 2
    assert "components/c/__init__.py:2: t: KeyError: 'missing'" in run.err
    assert "Traceback" not in run.err
    assert not (tmp_path / "compiled").exists()
    debug = kcompile("--debug", cwd=tmp_path)
    assert "Traceback" in debug.err


def test_kadet_error_in_library_names_library_and_component(tmp_path):
    project(tmp_path, kadet_item(), {
        "components/c/__init__.py": """\
            from kapitan.inputs import kadet
            lib = kadet.load_from_search_paths("mylib")
            def main():
                return {"a": lib.Thing()}
            """,
        "lib/mylib/__init__.py": """\
            from kapitan.inputs.kadet import BaseObj
            class Thing(BaseObj):
                def new(self):
                    self.need("name", "a Thing needs a name")
            """,
    })
    run = kcompile(cwd=tmp_path)
    assert run.code == 2
    # kadet's need() raises Kapitan's CompileError, as under Kapitan.
    assert ("lib/mylib/__init__.py:4: t: CompileError: Thing: \"name\": a Thing needs a name "
            "(running component components/c)") in run.err


def test_kadet_syntax_error_is_located(tmp_path):
    project(tmp_path, kadet_item(), {"components/c/__init__.py": "def main():\n    return {\n"})
    run = kcompile(cwd=tmp_path)
    assert run.code == 2
    assert "components/c/__init__.py:2: t: SyntaxError:" in run.err


def test_kadet_bad_main(tmp_path):
    project(tmp_path, kadet_item(), {"components/c/__init__.py": """\
        def main(a, b):
            return {}
        """})
    run = kcompile(cwd=tmp_path)
    assert "components/c/__init__.py:1: t: main() must take no parameter or one" in run.err
    (tmp_path / "components/c/__init__.py").write_text("def main():\n    return [1]\n")
    run = kcompile(cwd=tmp_path)
    assert "components/c/__init__.py:1: t: main() must return a mapping" in run.err
    (tmp_path / "components/c/__init__.py").write_text("X = 1\n")
    run = kcompile(cwd=tmp_path)
    assert "components/c/__init__.py: t: component has no main() function" in run.err


def test_kadet_plain_output_needs_strings(tmp_path):
    project(tmp_path, kadet_item(output_type="plain"), {
        "components/c/__init__.py": "def main():\n    return {'f': {'a': 1}}\n"})
    run = kcompile(cwd=tmp_path)
    assert run.code == 2
    assert "components/c/__init__.py: t: f: output_type plain needs a string, got dict" in run.err


def test_kadet_key_cannot_escape_output_dir(tmp_path):
    project(tmp_path, kadet_item(), {
        "components/c/__init__.py": "def main():\n    return {'../../evil': {}}\n"})
    run = kcompile(cwd=tmp_path)
    assert run.code == 2
    assert "lies outside the item's output path" in run.err
    assert not (tmp_path / "evil.yaml").exists()


def test_kadet_runs_afresh_per_target_and_leaves_no_pycache(tmp_path):
    """Module-level state never leaks between targets, whatever -p puts in one process."""
    project(tmp_path, kadet_item(), {"components/c/__init__.py": """\
        from kapitan.inputs import kadet
        from . import state
        state.COUNT.append(kadet.inventory().parameters.target_name)
        def main():
            return {"seen": {"targets": list(state.COUNT)}}
        """, "components/c/state.py": "COUNT = []\n"})
    (tmp_path / "inventory/targets/u.yml").write_text(
        (tmp_path / "inventory/targets/t.yml").read_text())
    assert kcompile("-p", "1", cwd=tmp_path).code == 0
    for name in ("t", "u"):
        text = (tmp_path / f"compiled/{name}/out/seen.yaml").read_text()
        assert text == f"targets:\n  - {name}\n"
    assert not list(tmp_path.rglob("__pycache__"))


def test_kadet_falsy_values_are_written_not_emptied(tmp_path):
    """Kapitan writes a 0-byte file for a falsy value; we write the value."""
    project(tmp_path, kadet_item(output_type="json") + "  prune: true\n", {
        "components/c/__init__.py": """\
            def main():
                return {"empty": {}, "zero": 0, "pruned": {"a": None, "b": []}, "none": None}
            """})
    assert kcompile(cwd=tmp_path).code == 0
    out = tmp_path / "compiled/t/out"
    got = {p.name: p.read_text() for p in out.iterdir()}
    assert got == {"empty.json": "{}", "zero.json": "0", "pruned.json": "{}",
                   "none.json": "null"}


def test_kadet_string_value_is_one_yaml_document(tmp_path):
    project(tmp_path, kadet_item(), {
        "components/c/__init__.py": "def main():\n    return {'s': 'abc'}\n"})
    assert kcompile(cwd=tmp_path).code == 0
    assert (tmp_path / "compiled/t/out/s.yaml").read_text() == "abc\n...\n"


def test_kapitan_shim_not_installed_outside_components(tmp_path):
    """The `kapitan` aliases exist only while a component runs."""
    code = (
        "import sys, importlib.util\n"
        "import kapitan_lite.kadet as k\n"
        "from kapitan_lite import kapitan_api\n"
        "with kapitan_api.kapitan_alias():\n"
        "    from kapitan.inputs import kadet, helm\n"
        "    import kapitan.cached, kapitan.resources, kapitan.utils, kapitan.errors\n"
        "    assert kadet is k is kapitan_api.inputs.kadet\n"
        "    assert helm.HelmChart and kapitan.utils.prune_empty\n"
        "    assert kapitan.resources.inventory and kapitan.errors.CompileError\n"
        "    try:\n"
        "        import kapitan.topics\n"
        "    except ImportError:\n"
        "        pass\n"
        "    else:\n"
        "        raise AssertionError('kapitan.topics imported')\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'kapitan']\n"
        "assert importlib.util.find_spec('kapitan') is None\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)


def test_kapitan_shim_never_shadows_a_real_kapitan(tmp_path):
    fake = write_tree(tmp_path / "site", {"kapitan/__init__.py": "REAL = True\n"})
    code = (
        "from kapitan_lite.kapitan_api import kapitan_alias\n"
        "with kapitan_alias():\n"
        "    import kapitan\n"
        "    assert kapitan.REAL\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{fake}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path, env=env)


# ---------------------------------------------------------------- jsonnet


def jsonnet_item(path: str = "components/main.jsonnet", output_type: str = "yaml") -> str:
    return (f"- input_type: jsonnet\n  input_paths: [{path}]\n  output_path: out\n"
            f"  output_type: {output_type}\n")


def test_jsonnet_runtime_error_is_located(tmp_path):
    project(tmp_path, jsonnet_item(), {"components/main.jsonnet": """\
        local x = 1;
        {
          a: error 'boom ' + x,
        }
        """})
    run = kcompile(cwd=tmp_path)
    assert run.code == 2
    assert "components/main.jsonnet:3: t: jsonnet runtime error: boom 1" in run.err


def test_jsonnet_static_error_is_located(tmp_path):
    project(tmp_path, jsonnet_item(), {"components/main.jsonnet": "{\n  a: nope,\n}\n"})
    run = kcompile(cwd=tmp_path)
    assert "components/main.jsonnet:2: t: jsonnet static error: Unknown variable: nope" in run.err


def test_jsonnet_native_error_points_at_the_caller(tmp_path):
    """An error in a kapitan.libjsonnet function names the user's line, not the library's."""
    project(tmp_path, jsonnet_item(), {"components/main.jsonnet": """\
        local kap = import 'lib/kapitan.libjsonnet';
        {
          a: kap.file_read('no/such/file'),
        }
        """})
    run = kcompile(cwd=tmp_path)
    assert "components/main.jsonnet:3: t: jsonnet runtime error: Could not find file" in run.err


def test_jsonnet_missing_import_is_located(tmp_path):
    project(tmp_path, jsonnet_item(), {"components/main.jsonnet": "local x = import 'nope.libsonnet';\nx\n"})
    run = kcompile(cwd=tmp_path)
    assert run.code == 2
    assert "components/main.jsonnet:1: t:" in run.err
    assert "nope.libsonnet" in run.err


def test_jsonnet_inventory_of_unknown_target(tmp_path):
    project(tmp_path, jsonnet_item(), {"components/main.jsonnet": """\
        local kap = import 'lib/kapitan.libjsonnet';
        { a: kap.inventory('ghost') }
        """})
    run = kcompile(cwd=tmp_path)
    assert "components/main.jsonnet:2: t: jsonnet runtime error: inventory(): no target named 'ghost'" in run.err


def test_jsonnet_non_object_result_is_named_after_the_file(tmp_path):
    project(tmp_path, jsonnet_item("components/things.jsonnet", "json"), {
        "components/things.jsonnet": "[1, 2]\n"})
    assert kcompile(cwd=tmp_path).code == 0
    assert json.loads((tmp_path / "compiled/t/out/things.json").read_text()) == [1, 2]


# ---------------------------------------------------------------- external / remove


def test_external_gets_only_its_env_and_the_real_output_dir(tmp_path):
    project(tmp_path, """\
- input_type: external
  input_paths: [scripts/gen.sh]
  output_path: gen
  args: ['\\${compiled_target_dir}']
  env_vars:
    FOO: bar
""", {"scripts/gen.sh": """\
        #!/bin/sh
        env | sort | grep -v '^PWD=\\|^SHLVL=\\|^_=\\|^OLDPWD=' | cut -d= -f1 > "$1/env-names.txt"
        echo "$FOO" > "$1/foo.txt"
        """})
    os.chmod(tmp_path / "scripts/gen.sh", 0o755)
    run = kcompile(cwd=tmp_path, env={"LEAKY_SECRET": "x"})
    assert run.code == 0, run.err
    out = tmp_path / "compiled/t/gen"
    assert (out / "foo.txt").read_text() == "bar\n"
    assert (out / "env-names.txt").read_text().split() == ["FOO", "HOME", "PATH"]


def test_external_failure_names_inventory_line_and_stderr(tmp_path):
    project(tmp_path, "- input_type: external\n  input_paths: [scripts/fail.sh]\n  output_path: x\n",
            {"scripts/fail.sh": "#!/bin/sh\necho 'it broke' >&2\nexit 3\n"})
    os.chmod(tmp_path / "scripts/fail.sh", 0o755)
    run = kcompile(cwd=tmp_path)
    assert run.code == 2
    assert ("inventory/targets/t.yml:7: t: external: ./scripts/fail.sh exited with 3: it broke"
            in run.err)


def test_remove_never_touches_sources_or_other_targets(tmp_path):
    project(tmp_path, """\
- input_type: remove
  input_paths: [files/precious.txt]
  output_path: .
""", {"files/precious.txt": "keep me\n"})
    run = kcompile(cwd=tmp_path)
    assert run.code == 2
    assert "input path files/precious.txt not found" in run.err
    assert (tmp_path / "files/precious.txt").exists()


# ---------------------------------------------------------------- helm


def fake_helm(tmp_path: Path) -> Path:
    """A stand-in helm that records its argv and renders a chart like `helm template --output-dir`."""
    script = tmp_path / "bin/helm"
    script.parent.mkdir(parents=True)
    script.write_text(f"""#!{sys.executable}
import json, os, sys
args = sys.argv[1:]
with open({str(tmp_path / "argv.json")!r}, "w") as fp:
    json.dump(args, fp)
if "--fail" in args:
    sys.stderr.write("Error: chart is broken\\nsecond line\\n")
    sys.exit(1)
out = args[args.index("--output-dir") + 1]
chart = os.path.basename(args[-1].rstrip("/"))
d = os.path.join(out, chart, "templates")
os.makedirs(d)
with open(os.path.join(d, "svc.yaml"), "w") as fp:
    fp.write("---\\n# Source: x\\nkind: Service\\nmetadata:\\n  name: a\\n---\\n---\\nkind: Service\\nmetadata:\\n  name: b\\n")
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


HELM_ITEM = """\
- input_type: helm
  input_paths: [charts/web]
  output_path: .
  output_type: json
  kube_version: "1.29"
  helm_values:
    image: {tag: "0123"}
  helm_values_files: [values/extra.yml]
  helm_params:
    name: release-a
    namespace: ns1
    include_crds: false
    validate: true
    timeout: 5m
"""


def test_helm_argument_mapping_and_output(tmp_path):
    fake_helm(tmp_path)
    project(tmp_path, HELM_ITEM, {"charts/web/Chart.yaml": "name: web\n", "values/extra.yml": "a: 1\n"})
    env = {"PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    run = kcompile(cwd=tmp_path, env=env)
    assert run.code == 0, run.err
    argv = json.loads((tmp_path / "argv.json").read_text())
    values = argv[argv.index("--values") + 1]
    outdir = argv[argv.index("--output-dir") + 1]
    assert argv == ["template", "--skip-tests", "--api-versions", "1.29", "--namespace", "ns1",
                    "--validate", "--timeout", "5m", "--values", values,
                    "--values", "values/extra.yml", "--output-dir", outdir, "release-a",
                    "./charts/web"]
    # output_type is forced to auto: helm's .yaml files stay yaml, empty documents dropped
    out = (tmp_path / "compiled/t/web/templates/svc.yaml").read_text()
    assert out == "kind: Service\nmetadata:\n  name: a\n---\nkind: Service\nmetadata:\n  name: b\n"
    assert not os.path.exists(values)  # temp files are cleaned up


def test_helm_values_quote_numeric_strings(tmp_path):
    script = fake_helm(tmp_path)
    # capture the values file before it is deleted
    text = script.read_text().replace(
        "if \"--fail\"", "open(" + repr(str(tmp_path / "values.yml")) +
        ", 'w').write(open(args[args.index('--values') + 1]).read())\nif \"--fail\"")
    script.write_text(text)
    project(tmp_path, HELM_ITEM, {"charts/web/Chart.yaml": "name: web\n", "values/extra.yml": ""})
    run = kcompile(cwd=tmp_path, env={"PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"})
    assert run.code == 0, run.err
    assert (tmp_path / "values.yml").read_text() == "image:\n  tag: '0123'\n"


def test_helm_failure_and_missing_binary_are_clear(tmp_path):
    fake_helm(tmp_path)
    project(tmp_path, HELM_ITEM.replace("timeout: 5m", "fail: true"),
            {"charts/web/Chart.yaml": "name: web\n", "values/extra.yml": ""})
    env = {"PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    run = kcompile(cwd=tmp_path, env=env)
    assert run.code == 2
    assert ("inventory/targets/t.yml:7: t: helm template exited with 1: "
            "Error: chart is broken | second line") in run.err
    run = kcompile(cwd=tmp_path, env={"PATH": "/nonexistent"})
    assert run.code == 2
    assert "helm binary 'helm' not found: install helm" in run.err


def test_helm_refuses_set_params(tmp_path):
    project(tmp_path, HELM_ITEM.replace("timeout: 5m", "set: a=b"),
            {"charts/web/Chart.yaml": "name: web\n", "values/extra.yml": ""})
    run = kcompile(cwd=tmp_path)
    assert "helm_params set: not supported, use helm_values" in run.err


def test_continue_on_compile_error_and_ignore_missing(tmp_path):
    project(tmp_path, kadet_item(extra="  continue_on_compile_error: true\n") +
            "- input_type: jsonnet\n  input_paths: [components/none.jsonnet]\n"
            "  output_path: j\n  ignore_missing: true\n",
            {"components/c/__init__.py": "def main():\n    raise RuntimeError('nope')\n"})
    run = kcompile(cwd=tmp_path)
    assert run.code == 0, run.err
    assert "warning: components/c/__init__.py:2: t: RuntimeError: nope" in run.err
    assert (tmp_path / "compiled/t/j").is_dir()
