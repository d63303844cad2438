"""``kcompile check`` and ``kcompile diff`` on real git repositories."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import kcompile, snapshot, write_tree
from review_project import (
    SECRETS,
    commit,
    git,
    git_state,
    make_delta_read_alpha,
    make_fleet,
    ref_file,
    ref_hash,
)

CONTAINER_ENV = "spec.template.spec.containers[name=web].env[name=LOG_LEVEL].value"


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    return make_fleet(tmp_path / "fleet")


def diff_json(root: Path, *args: str) -> dict:
    run = kcompile("diff", "--format", "json", *args, cwd=root)
    assert run.code == 0, run.err
    return json.loads(run.out)


def by_target(doc: dict) -> dict[str, dict]:
    return {t["target"]: t for t in doc["targets"]}


def change_log_level(root: Path, value: str = "warn") -> None:
    path = root / "inventory/classes/web.yml"
    path.write_text(path.read_text().replace("log_level: info", f"log_level: {value}"))


# -- diff ---------------------------------------------------------------------

def test_class_change_reports_exactly_the_inheriting_targets(fleet):
    before = git_state(fleet)
    compiled_before = snapshot(fleet / "compiled")
    change_log_level(fleet)
    state = git_state(fleet)
    doc = diff_json(fleet)
    targets = by_target(doc)
    # gamma overrides the value and delta does not include the class.
    assert sorted(targets) == ["alpha", "beta"]
    assert doc["targets_compared"] == 4 and doc["targets_changed"] == 2
    alpha = targets["alpha"]
    assert alpha["status"] == "changed"
    [deployment] = alpha["objects"]
    assert deployment["label"] == "Deployment alpha/web"
    assert deployment["id"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                "namespace": "alpha", "name": "web"}
    assert deployment["fields"] == [{"path": CONTAINER_ENV, "op": "changed",
                                     "old": "info", "new": "warn"}]
    [readme] = [f for f in alpha["files"] if f["path"] == "docs/README.md"]
    assert "-Log level: info" in readme["text_diff"]
    assert "+Log level: warn" in readme["text_diff"]
    assert alpha["counts"]["objects_changed"] == 1
    assert alpha["counts"]["files_changed"] == 2
    assert doc["counts"]["objects_changed"] == 2
    # Nothing of the repository moved: working tree, index, worktrees, branches, stash.
    assert git_state(fleet) == state
    assert before["worktrees"] == state["worktrees"]
    assert snapshot(fleet / "compiled") == compiled_before


def test_text_report_names_fields_with_old_and_new(fleet):
    change_log_level(fleet)
    run = kcompile("diff", cwd=fleet)
    assert run.code == 0, run.err
    assert "\x1b[" not in run.out  # not a terminal: no colours
    assert "2 of 4 targets changed" in run.out
    assert f'{CONTAINER_ENV}: "info" → "warn"' in run.out
    assert "gamma" not in run.out and "delta" not in run.out


def test_value_change_in_a_target_file(fleet):
    (fleet / "inventory/targets/delta.yml").write_text(
        "classes: [common]\nparameters:\n  replicas: 5\n  image: shop/web:2.0\n")
    doc = diff_json(fleet)
    [delta] = doc["targets"]
    [dep] = delta["objects"]
    assert {f["path"]: (f["old"], f["new"]) for f in dep["fields"]} == {
        "spec.replicas": (1, 5),
        "spec.template.spec.containers[name=web].image": ("shop/web:1.0", "shop/web:2.0"),
    }


def test_diff_between_two_revisions_and_committed_trees(fleet):
    change_log_level(fleet)
    assert kcompile(cwd=fleet).code == 0
    commit(fleet, "warn")
    state = git_state(fleet)
    compiled = by_target(diff_json(fleet, "--base", "HEAD~1", "--head", "HEAD"))
    committed = by_target(diff_json(fleet, "--base", "HEAD~1", "--head", "HEAD", "--committed"))
    assert sorted(compiled) == sorted(committed) == ["alpha", "beta"]
    assert compiled["alpha"]["objects"] == committed["alpha"]["objects"]
    # The working tree is HEAD: nothing differs.
    assert diff_json(fleet)["targets"] == []
    assert git_state(fleet) == state


def test_added_and_removed_targets(fleet):
    git(fleet, "rm", "-q", "inventory/targets/delta.yml")
    write_tree(fleet, {"inventory/targets/epsilon.yml": "classes: [common, web]\n"})
    ref_file(fleet, "targets/epsilon/db", "epsilon-db-pass")
    targets = by_target(diff_json(fleet))
    assert sorted(targets) == ["delta", "epsilon"]
    assert targets["delta"]["status"] == "removed"
    assert targets["epsilon"]["status"] == "added"
    added = {o["label"]: o["status"] for o in targets["epsilon"]["objects"]}
    assert added == {"Deployment epsilon/web": "added", "Secret epsilon/db": "added"}
    removed = {o["label"]: o["status"] for o in targets["delta"]["objects"]}
    assert removed == {"Deployment delta/web": "removed", "Secret delta/db": "removed"}
    assert {f["status"] for f in targets["epsilon"]["files"]} == {"added"}
    assert targets["epsilon"]["counts"]["files_added"] == 3


def test_renamed_files(fleet):
    git(fleet, "mv", "templates/manifests/deployment.yml", "templates/manifests/web.yml")
    git(fleet, "mv", "templates/docs/README.md", "templates/docs/GUIDE.md")
    targets = by_target(diff_json(fleet))
    assert sorted(targets) == ["alpha", "beta", "delta", "gamma"]
    alpha = targets["alpha"]
    assert alpha["objects"] == []  # the Deployment moved with its file, unchanged
    assert sorted((f["old_path"], f["path"], f["status"]) for f in alpha["files"]) == [
        ("docs/README.md", "docs/GUIDE.md", "renamed"),
        ("manifests/deployment.yml", "manifests/web.yml", "renamed"),
    ]
    assert alpha["counts"]["files_renamed"] == 2
    assert alpha["counts"]["files_added"] == alpha["counts"]["files_removed"] == 0


def test_object_moved_to_another_file_is_matched(fleet):
    dep = fleet / "templates/manifests/deployment.yml"
    sec = fleet / "templates/manifests/secret.yml"
    sec.write_text(sec.read_text() + "---\n" + dep.read_text().replace("replicas: {{", "replicas: 1{{"))
    dep.unlink()
    targets = by_target(diff_json(fleet, "-t", "alpha"))
    objects = {o["label"]: o for o in targets["alpha"]["objects"]}
    moved = objects["Deployment alpha/web"]
    assert moved["status"] == "changed"
    assert (moved["old_file"], moved["file"]) == ("manifests/deployment.yml",
                                                  "manifests/secret.yml")
    assert moved["fields"] == [{"path": "spec.replicas", "op": "changed", "old": 2, "new": 12}]


def test_formatting_is_not_a_change(fleet):
    # Keys reordered, quoting and indentation changed: the same objects.
    (fleet / "templates/manifests/secret.yml").write_text(
        'kind: "Secret"\n'
        "stringData: {password: '{{ inventory.parameters.db_password }}'}\n"
        "metadata:\n"
        '    namespace: "{{ inventory.parameters.namespace }}"\n'
        "    name: db\n"
        "apiVersion: v1\n")
    doc = diff_json(fleet)
    assert doc["counts"]["objects_changed"] == 0
    assert doc["counts"]["files_reformatted"] == 4
    assert doc["counts"]["files_changed"] == 0
    run = kcompile("check", cwd=fleet)  # check is byte for byte
    assert run.code == 1
    assert "alpha: 1 file reformatted" in run.out


def test_secret_rotation_is_reported_without_its_value(fleet):
    old_hash = ref_hash(fleet, "targets/alpha/db")
    ref_file(fleet, "targets/alpha/db", "alpha-rotated-pass-2")
    new_hash = ref_hash(fleet, "targets/alpha/db")
    assert old_hash != new_hash
    outputs = {fmt: kcompile("diff", "--format", fmt, cwd=fleet) for fmt in
               ("text", "markdown", "json")}
    for fmt, run in outputs.items():
        assert run.code == 0, run.err
        for secret in ("alpha-rotated-pass-2", SECRETS["alpha"]):
            assert secret not in run.out, fmt
        assert old_hash not in run.out and new_hash not in run.out, fmt
        assert "secret changed" in run.out or fmt == "json"
    doc = json.loads(outputs["json"].out)
    [alpha] = doc["targets"]
    [secret] = alpha["objects"]
    assert secret["label"] == "Secret alpha/db"
    assert secret["fields"] == [{"path": "stringData.password", "op": "secret"}]
    assert doc["counts"]["secrets_changed"] == 1
    assert "stringData.password`: secret changed" in outputs["markdown"].out


def test_markdown_shape(fleet):
    change_log_level(fleet)
    run = kcompile("diff", "--format", "markdown", cwd=fleet)
    assert run.code == 0, run.err
    md = run.out
    lines = md.splitlines()
    assert lines[0].startswith("### kcompile diff: compiled output of HEAD (")
    assert lines[0].endswith("→ working tree")
    assert "**2 of 4 targets changed**" in md
    table = [line for line in lines if line.startswith("|")]
    assert table[0].startswith("| target | status |")
    assert table[1].startswith("|---")
    assert [row.split("|")[1].strip() for row in table[2:]] == ["`alpha`", "`beta`"]
    assert md.count("<details>") == md.count("</details>") == 2
    assert "<summary><code>alpha</code>: 2 files changed; 1 object changed</summary>" in md
    assert f"`{CONTAINER_ENV}`: `\"info\"` → `\"warn\"`" in md
    assert "```diff" in md and "+Log level: warn" in md
    assert md.index("| `alpha`") < md.index("<details>")  # the table comes first
    assert kcompile("diff", "--format", "markdown", cwd=fleet).out == md  # stable


def test_markdown_size_cap_is_stable_and_says_what_was_cut(tmp_path):
    root = make_fleet(tmp_path / "big")
    for i in range(30):
        write_tree(root, {f"inventory/targets/t{i:02d}.yml": "classes: [common, web]\n"})
        ref_file(root, f"targets/t{i:02d}/db", f"t{i:02d}-secret-value")
    assert kcompile(cwd=root).code == 0
    commit(root, "more targets")
    change_log_level(root)
    full = kcompile("diff", "--format", "markdown", cwd=root).out
    capped = kcompile("diff", "--format", "markdown", "--max-size", "4000", cwd=root)
    assert capped.code == 0, capped.err
    md = capped.out
    assert len(full) > 4000 >= len(md)
    assert md.count("<details>") == md.count("</details>") >= 1
    assert "Cut to stay under 4000 characters" in md
    detailed = md.count("<details>")
    assert f"{32 - detailed} targets not detailed" in md
    assert md == kcompile("diff", "--format", "markdown", "--max-size", "4000", cwd=root).out


def test_only_targets_asked_for(fleet):
    change_log_level(fleet)
    assert sorted(by_target(diff_json(fleet, "-t", "beta", "gamma"))) == ["beta"]
    run = kcompile("diff", "-t", "nosuch", cwd=fleet)
    assert run.code == 2 and "nosuch: target not found" in run.err


def test_template_reading_inventory_global_is_recompiled(fleet):
    # delta's inventory does not change, but its template reads alpha's.
    make_delta_read_alpha(fleet)
    change_log_level(fleet)
    targets = by_target(diff_json(fleet))
    assert sorted(targets) == ["alpha", "beta", "delta"]
    [peers] = targets["delta"]["objects"]
    assert peers["fields"] == [{"path": "peer_log_level", "op": "changed",
                                "old": "info", "new": "warn"}]


def test_a_template_change_compiles_every_target(fleet):
    path = fleet / "templates/manifests/deployment.yml"
    path.write_text(path.read_text().replace("name: TARGET", "name: TARGET_NAME"))
    targets = by_target(diff_json(fleet))
    assert sorted(targets) == ["alpha", "beta", "delta", "gamma"]
    [dep] = targets["gamma"]["objects"]
    assert [f["op"] for f in dep["fields"]] == ["removed", "added"]


def test_nothing_changed_compiles_nothing(fleet):
    run = kcompile("diff", "-v", cwd=fleet)
    assert run.code == 0
    assert "no change in 4 targets" in run.out
    assert "compiled 0 targets" in run.err


# -- errors -------------------------------------------------------------------

def test_not_a_git_repository(tmp_path):
    root = tmp_path / "nogit"
    write_tree(root, {"inventory/classes/c.yml": "parameters: {}\n",
                      "inventory/targets/t.yml": "classes: [c]\n"})
    run = kcompile("diff", cwd=root, env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert run.code == 2
    assert run.err_lines == [f"kcompile diff: not in a git repository: {root}"]


def test_bad_revision(fleet):
    state = git_state(fleet)
    for args in (("--base", "nosuch"), ("--head", "HEAD~7"), ("--base", "HEAD~1")):
        run = kcompile("diff", *args, cwd=fleet)
        assert run.code == 2, args
        assert len(run.err_lines) == 1 and run.err_lines[0].startswith(
            "kcompile diff: unknown revision"), run.err
    assert git_state(fleet) == state


def test_base_revision_that_does_not_compile(fleet):
    write_tree(fleet, {"inventory/targets/beta.yml": "classes:\n  - common\n  - nosuch\n"})
    commit(fleet, "broken")
    write_tree(fleet, {"inventory/targets/beta.yml": "classes: [common, web]\n"})
    run = kcompile("diff", cwd=fleet)
    assert run.code == 2
    assert len(run.err_lines) == 1
    line = run.err_lines[0]
    assert line.startswith("kcompile diff: base revision HEAD (")
    assert line.endswith(
        "does not compile: inventory/targets/beta.yml:3: beta: class nosuch not found")


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_interrupted_diff_leaves_nothing_behind(tmp_path, how):
    root = make_fleet(tmp_path / "fleet")
    for i in range(60):
        write_tree(root, {f"inventory/targets/t{i:02d}.yml": "classes: [common, web]\n"})
        ref_file(root, f"targets/t{i:02d}/db", f"t{i:02d}-secret-value")
    # Each target takes a while to render, on both sides, so the signal always
    # lands while they compile, however loaded the machine is.
    write_tree(root, {
        "lib/jinja2_filters.py": "import time\n\ndef slow(v):\n    time.sleep(0.3)\n    return v\n",
        "templates/docs/README.md": "# {{ target | slow }}\n",
    })
    commit(root, "more targets")
    change_log_level(root)
    state = git_state(root)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "kapitan_lite", "diff"], cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TMPDIR": str(scratch)}, start_new_session=True)
    deadline = time.monotonic() + 60
    # Interrupt once both sides are being compiled.
    while not list(scratch.glob("kcompile-review-*/*-out")) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "diff ended before it could be interrupted"
    if how == "ctrl-c":  # a terminal signals the whole foreground process group
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert list(scratch.iterdir()) == []
    assert git_state(root) == state
    # No process of the run is left: the sides and their compile workers ran
    # in the scratch dir (base) and in the project (head).
    assert [p for p in _cwds() if p == str(root) or p.startswith(str(scratch))] == []


def _cwds() -> list[str]:
    out = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):  # gone, a zombie, or not ours to look at
                out.append(os.readlink(proc / "cwd"))
    return out


# -- check --------------------------------------------------------------------

def test_check_exit_codes_and_summary(fleet):
    compiled = snapshot(fleet / "compiled")
    run = kcompile("check", cwd=fleet)
    assert run.code == 0, run.out + run.err
    assert "compiled/ is up to date (4 targets)" in run.err
    change_log_level(fleet)
    run = kcompile("check", cwd=fleet)
    assert run.code == 1
    assert run.out.splitlines() == [
        "compiled/ is not what the sources produce; running kcompile would change, by target:",
        "  alpha: 2 files changed; 1 object changed",
        "  beta: 2 files changed; 1 object changed",
        "kcompile check: 2 targets differ",
    ]
    assert kcompile("check", "-t", "gamma", "-t", "delta", cwd=fleet).code == 0
    assert kcompile("check", "-t", "beta", cwd=fleet).code == 1
    assert snapshot(fleet / "compiled") == compiled  # check never writes compiled/
    assert kcompile(cwd=fleet).code == 0
    assert kcompile("check", cwd=fleet).code == 0


def test_check_added_removed_and_stray(fleet):
    (fleet / "inventory/targets/delta.yml").unlink()
    write_tree(fleet, {"inventory/targets/epsilon.yml": "classes: [common]\n",
                       "compiled/stray/file.txt": "left over\n"})
    ref_file(fleet, "targets/epsilon/db", "epsilon-db-pass")
    run = kcompile("check", cwd=fleet)
    assert run.code == 1
    assert "  delta (target removed): 3 files removed; 2 objects removed" in run.out
    assert "  epsilon (new target): 3 files added; 2 objects added" in run.out
    assert "  stray (target removed): 1 file removed" in run.out
    write_tree(fleet, {"compiled/top.txt": "left over\n"})
    assert "  files outside every target: 1 file removed" in \
        kcompile("check", cwd=fleet).out


def test_check_user_error_exits_2(fleet):
    write_tree(fleet, {"inventory/targets/beta.yml": "classes:\n  - nosuch\n"})
    run = kcompile("check", cwd=fleet)
    assert run.code == 2
    assert "inventory/targets/beta.yml:2: beta: class nosuch not found" in run.err


def test_check_leak_guard(fleet):
    secret = SECRETS["beta"]
    path = fleet / "compiled/beta/docs/README.md"
    path.write_text(path.read_text() + f"debug: {secret}\n")
    write_tree(fleet, {"compiled/gamma/manifests/extra.yml": "note: ab12\n"})
    run = kcompile("check", "-t", "beta", cwd=fleet)
    assert run.code == 1
    assert "compiled/beta/docs/README.md: plaintext of base64:targets/beta/db" in run.out
    assert secret not in run.out + run.err
    assert "1 leaked secret" in run.out


def test_leak_guard_encoded_short_and_plain_refs(fleet):
    import base64

    ref_file(fleet, "targets/alpha/pin", "ab12")  # too short to look for
    ref_file(fleet, "targets/alpha/colour", "turquoise-plain", ref_type="plain")
    ref_file(fleet, "targets/alpha/key", "-----BEGIN KEY-----\nQUJDREVGR0hJSktMTU5PUFFSU1RVVldY\n"
                                          "-----END KEY-----\n")
    encoded = base64.b64encode(SECRETS["gamma"].encode()).decode()
    write_tree(fleet, {"compiled/alpha/extra.yml": (
        "pin: ab12\ncolour: turquoise-plain\n"
        "key: |\n  -----BEGIN KEY-----\n  QUJDREVGR0hJSktMTU5PUFFSU1RVVldY\n  -----END KEY-----\n"),
        "compiled/gamma/extra.yml": f"data:\n  password: {encoded}\n"})
    run = kcompile("check", cwd=fleet)
    leaks = [line for line in run.out.splitlines() if line.startswith("  compiled/")]
    assert leaks == ["  compiled/alpha/extra.yml: plaintext of base64:targets/alpha/key",
                     "  compiled/gamma/extra.yml: plaintext of base64:targets/gamma/db"]


# -- CI wiring ----------------------------------------------------------------

def test_pr_workflow_and_pre_commit_hook_run_check_and_diff():
    import yaml
    from conftest import REPO

    workflow = yaml.safe_load((REPO / ".github/workflows/kcompile-review.yml").read_text())
    assert True in workflow and "pull_request" in workflow[True]  # YAML 1.1 reads 'on' as true
    steps = workflow["jobs"]["review"]["steps"]
    uses = {s["uses"].split("@")[0] for s in steps if "uses" in s}
    assert uses == {"actions/checkout", "actions/setup-python", "actions/github-script",
                    "actions/cache", "github/codeql-action/upload-sarif"}
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "kcompile check" in runs
    assert "kcompile diff --base HEAD^1 --format markdown" in runs
    assert "kcompile affected --base HEAD^1" in runs
    assert runs.index("kcompile check") < runs.index("\nkcompile\n")  # check sees compiled/ as committed
    assert workflow["permissions"]["pull-requests"] == "write"
    hooks = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    assert sorted(hooks) == ["kcompile-check", "kcompile-lint", "kcompile-validate"]
    assert all(h["entry"] == h["id"].replace("-", " ") and h["pass_filenames"] is False
               for h in hooks.values())
