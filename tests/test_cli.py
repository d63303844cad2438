"""The command line: selection, laziness, inventory printing, determinism, options."""

import json
import os
import subprocess
import sys

import pytest
import yaml
from conftest import content, kcompile, simple_project, write_tree


def test_t_compiles_only_that_target_and_ignores_broken_others(project):
    # gamma cannot resolve; compiling alpha alone must not even look at it.
    write_tree(project, {"inventory/targets/gamma.yml": "classes: [nosuch]\n"})
    run = kcompile("-t", "alpha", cwd=project)
    assert run.code == 0, run.err
    assert sorted(content(project / "compiled")) == ["alpha", "alpha/manifests",
                                                     "alpha/manifests/app.yml"]
    assert kcompile(cwd=project).code == 2  # the full compile does see it


def test_several_targets_kapitan_style(project):
    write_tree(project, {"inventory/targets/gamma.yml": "classes: [common]\nparameters:\n  replicas: 3\n"})
    assert kcompile("-t", "alpha", "gamma", cwd=project).code == 0
    assert {p.split("/")[0] for p in content(project / "compiled")} == {"alpha", "gamma"}


def test_labels_select_targets(tmp_path):
    root = simple_project(tmp_path / "p", targets={"a": "1", "b": "2", "c": "3"})
    for name, env, team in (("a", "prod", "web"), ("b", "prod", "db"), ("c", "dev", "web")):
        (root / f"inventory/targets/{name}.yml").write_text(
            f"classes: [common]\nparameters:\n  replicas: 1\n  kapitan:\n    labels:\n"
            f"      env: {env}\n      team: {team}\n")
    assert kcompile("-l", "env=prod", "team=web", cwd=root).code == 0
    assert {p.split("/")[0] for p in content(root / "compiled")} == {"a"}
    run = kcompile("-l", "env=qa", cwd=root)
    assert run.code == 2 and "no targets found with labels env=qa" in run.err
    assert kcompile("-t", "a", "-l", "env=prod", cwd=root).code == 2


def test_labels_must_be_strings(project):
    write_tree(project, {"inventory/targets/beta.yml":
                         "classes: [common]\nparameters:\n  replicas: 1\n  kapitan:\n    labels:\n      num: 5\n"})
    run = kcompile(cwd=project)
    assert run.code == 2
    assert "parameters.kapitan.labels.num must be a string, got 5" in run.err


@pytest.mark.parametrize("backend", ["reclass", "reclass-rs"])
def test_parallelism_does_not_change_output(tmp_path, backend):
    targets = {f"t{i:02d}": str(i) for i in range(12)}
    outs = []
    for p in ("1", "2"):
        root = simple_project(tmp_path / f"p{p}", targets=targets)
        assert kcompile("-p", p, "--backend", backend, cwd=root).code == 0
        outs.append(content(root / "compiled"))
    assert outs[0] == outs[1]
    assert len(outs[0]) == 36


def test_run_from_a_subdirectory_finds_the_root(project):
    run = kcompile(cwd=project / "templates")
    assert run.code == 0, run.err
    assert (project / "compiled/alpha/manifests/app.yml").exists()


def test_yaml_extension_and_dotted_names(tmp_path):
    root = simple_project(tmp_path / "p", targets={})
    write_tree(root, {
        "inventory/targets/plain.yaml": "classes: [common]\nparameters:\n  replicas: 1\n",
        "inventory/targets/sub/deep.yml": "classes: [common]\nparameters:\n  replicas: 2\n",
        "inventory/targets/ignored.txt": "not a target",
    })
    assert kcompile(cwd=root).code == 0
    assert sorted(p for p in content(root / "compiled") if p.endswith(".yml")) == [
        "deep/manifests/app.yml", "plain/manifests/app.yml"]
    run = kcompile("--compose-target-name", "-t", "sub.deep", cwd=root)
    # composed name sub.deep, but vars.target uses the short name: a clear error
    assert run.code == 2 and "vars.target is 'deep' but the target is named 'sub.deep'" in run.err


def test_conflicting_target_names(tmp_path):
    root = simple_project(tmp_path / "p", targets={"a": "1"})
    write_tree(root, {"inventory/targets/sub/a.yml": "classes: [common]\n"})
    run = kcompile(cwd=root)
    assert run.code == 2
    assert "conflicting targets: also defined in" in run.err


def test_reclass_config_is_honoured(project):
    write_tree(project, {
        "inventory/reclass-config.yml": "ignore_class_notfound: true\n",
        "inventory/targets/beta.yml": "classes: [common, not.there]\nparameters:\n  replicas: 1\n",
    })
    assert kcompile(cwd=project).code == 0


def test_inventory_command(project):
    run = kcompile("inventory", cwd=project)
    assert run.code == 0, run.err
    data = yaml.safe_load(run.out)
    assert sorted(data) == ["alpha", "beta"]
    assert data["beta"]["parameters"]["replicas"] == 2
    assert data["alpha"]["classes"] == ["common"]
    # Kapitan's model defaults are filled in, as `kapitan inventory` shows them
    item = data["alpha"]["parameters"]["kapitan"]["compile"][0]
    assert item["output_type"] == "plain" and item["suffix_stripped"] == ".j2"
    assert item["ignore_missing"] is True and item["prune"] is True


def test_inventory_command_target_pattern_json(project):
    run = kcompile("inventory", "-t", "beta", "--pattern", "parameters.replicas", cwd=project)
    assert run.code == 0 and yaml.safe_load(run.out) == 2
    run = kcompile("inventory", "-t", "beta", "--format", "json", cwd=project)
    assert json.loads(run.out)["parameters"]["_reclass_"]["name"]["short"] == "beta"
    run = kcompile("inventory", "-t", "beta", "--pattern", "parameters.nope", cwd=project)
    assert run.code == 2 and "no key 'nope'" in run.err


def test_inventory_matches_between_backends(project):
    a = kcompile("inventory", "--backend", "reclass", cwd=project)
    b = kcompile("inventory", "--backend", "reclass-rs", cwd=project)
    assert a.code == b.code == 0
    assert a.out == b.out


def test_unknown_backend_is_a_usage_error(project):
    run = kcompile("--backend", "nosuch", cwd=project)
    assert run.code == 2 and "Invalid value" in run.err


def test_version(project):
    run = kcompile("--version", cwd=project)
    assert run.code == 0 and run.out.startswith("kcompile ") and "(output of kapitan 0.36.3)" in run.out


@pytest.mark.parametrize("backend", ["reclass", "reclass-rs"])
def test_inventory_global_resolves_only_what_templates_read(project, backend):
    write_tree(project, {
        "templates/app.yml": "peer: {{ inventory_global['beta'].parameters.replicas }}\n",
        "inventory/targets/gamma.yml": "classes: [common]\nparameters:\n  x: ${nope}\n",
    })
    run = kcompile("--backend", backend, "-t", "alpha", cwd=project)
    assert run.code == 0, run.err
    assert (project / "compiled/alpha/manifests/app.yml").read_text() == "peer: 2"
    # reading a broken target through inventory_global reports that target's problem
    write_tree(project, {"templates/app.yml": "{{ inventory_global['gamma'].parameters.x }}\n"})
    run = kcompile("--backend", backend, "-t", "alpha", "beta", "-p", "2", cwd=project)
    assert run.code == 2
    assert "gamma: undefined reference ${nope}" in run.err


def test_inventory_target_full_path_is_empty_as_in_kapitan(project):
    # Kapitan fills it in only after templates and `kapitan inventory` copied the inventory.
    run = kcompile("inventory", "-t", "alpha", "--pattern", "parameters.kapitan.target_full_path",
                   cwd=project)
    assert run.code == 0 and run.out == "''\n"


# -- user mistakes and a hostile machine: exit 2 with a located line, never exit 3 --

def test_output_path_naming_a_file_is_a_user_error(project):
    (project / "afile").write_text("")
    run = kcompile("--output-path", "afile", cwd=project)
    assert run.code == 2, run.err
    assert run.err_lines[0] == "afile: --output-path names a file, not a directory"


@pytest.mark.parametrize("out", ["/tmp/elsewhere", "../../.."])
def test_output_path_leaving_the_target_is_a_located_error(tmp_path, out):
    root = simple_project(tmp_path / "p", targets={"alpha": "1"})
    write_tree(root, {"inventory/targets/alpha.yml":
                      "classes: [common]\nparameters:\n  replicas: 1\n  kapitan:\n    compile:\n"
                      "      - input_type: jinja2\n        input_paths: [templates/app.yml]\n"
                      f"        output_path: {out}\n"})
    run = kcompile(cwd=root)
    assert run.code == 2, run.err
    assert run.err_lines[0] == (
        f"inventory/targets/alpha.yml:8: alpha: parameters.kapitan.compile[1]: output_path "
        f"'{out}' leaves the target's directory (it must be a relative path inside it)")
    assert not (root / "compiled").exists()


def test_a_file_where_a_directory_should_be(tmp_path):
    root = simple_project(tmp_path / "p", targets={"alpha": "1"})
    write_tree(root, {"inventory/targets/alpha.yml":
                      "classes: [common]\nparameters:\n  replicas: 1\n  kapitan:\n    compile:\n"
                      "      - input_type: jinja2\n        input_paths: [templates/app.yml]\n"
                      "        output_path: manifests/app.yml/deeper\n"})
    run = kcompile(cwd=root)
    assert run.code == 2, run.err
    assert run.err_lines[0] == "compiled/alpha/manifests/app.yml/deeper: alpha: a file is where a directory should be"
    assert not (root / "compiled").exists()


def test_compiled_being_a_file_is_a_user_error(project):
    (project / "compiled").write_text("")
    run = kcompile(cwd=project)
    assert run.code == 2, run.err
    assert run.err_lines[0] == "compiled: compiled/ names a file, not a directory"


def test_full_disk_while_staging_is_a_located_error(project, tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs",
                                            str(mnt)], capture_output=True).returncode != 0:
        pytest.skip("needs root and a tmpfs mount to fill a disk")
    try:
        (project / "templates/app.yml").write_text("{{ 'x' * 20000 }}\n")
        run = kcompile("--output-path", str(mnt), cwd=project)
        assert run.code == 2, run.err
        # Each target names the file it was writing (a template, or its staged output).
        assert {tuple(line.split(": ")[1:]) for line in run.err_lines[:-1]} == {
            ("alpha", "No space left on device"), ("beta", "No space left on device")}, run.err
        assert not (mnt / "compiled").exists()
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_unwritable_output_is_a_located_error(project):
    if os.geteuid() == 0:
        pytest.skip("root writes through permissions")
    os.chmod(project, 0o555)
    try:
        run = kcompile(cwd=project)
    finally:
        os.chmod(project, 0o755)
    assert run.code == 2, run.err
    assert "Permission denied" in run.err_lines[0]


@pytest.mark.parametrize("args", [["inventory", "--format", "json"], ["inventory"]])
def test_closed_stdout_ends_quietly(tmp_path, args):
    # Far more output than a pipe holds, so the write is still going when head exits.
    root = simple_project(tmp_path / "p", targets={"alpha": "1"},
                          extra={"inventory/targets/beta.yml": "classes: [common]\nparameters:\n"
                                 "  replicas: 1\n  big: " + "x" * 1_000_000 + "\n"})
    # Buffered stdout, as by default (unbuffered, a write cut short by head is not an error).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    proc = subprocess.run(f"{sys.executable} -m kapitan_lite {' '.join(args)} | head -c 300",
                          shell=True, cwd=root, capture_output=True, text=True, timeout=120,
                          executable="/bin/bash", env=env)
    assert len(proc.stdout) == 300
    assert proc.stderr == ""
    status = subprocess.run(f"set -o pipefail; {sys.executable} -m kapitan_lite "
                            f"{' '.join(args)} | head -c 300 >/dev/null",
                            shell=True, cwd=root, capture_output=True, text=True, timeout=120,
                            executable="/bin/bash", env=env)
    assert status.returncode == 141, status.stderr  # 128 + SIGPIPE, as cat or git log give
    assert status.stderr == ""
