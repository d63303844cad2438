"""``kcompile explain``: final value, every contribution with file:line, references followed."""

import json

from conftest import kcompile, write_tree

INVENTORY = {
    "inventory/classes/base.yml": (
        "parameters:\n"                      # 1
        "  domain: example.com\n"            # 2
        "  host: web.${domain}\n"            # 3
        "  url: https://${host}/\n"          # 4
        "  labels:\n"                        # 5
        "    team: core\n"                   # 6
        "  args:\n"                          # 7
        "    - --verbose\n"                  # 8
        "  replicas: 1\n"                    # 9
        "  limits:\n"                        # 10
        "    cpu: 1\n"                       # 11
    ),
    "inventory/classes/prod.yml": (
        "classes:\n"                         # 1
        "  - base\n"                         # 2
        "parameters:\n"                      # 3
        "  labels:\n"                        # 4
        "    env: prod\n"                    # 5
        "  args:\n"                          # 6
        "    - --fast\n"                     # 7
        "  replicas: 3\n"                    # 8
        "  ~limits:\n"                       # 9
        "    memory: 1Gi\n"                  # 10
    ),
    "inventory/targets/t.yml": "classes:\n  - prod\nparameters:\n  domain: prod.example.com\n",
}


def _project(tmp_path):
    write_tree(tmp_path, INVENTORY)
    return tmp_path


def test_explain_merged_dict(tmp_path):
    run = kcompile("explain", "-t", "t", "labels", cwd=_project(tmp_path))
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert 'value: {"env": "prod", "team": "core"}' in lines
    assert any(line.startswith("  1. inventory/classes/base.yml:5 [base] set") for line in lines)
    assert any(line.startswith("  2. inventory/classes/prod.yml:4 [prod] merged") for line in lines)


def test_explain_concatenated_list_and_override(tmp_path):
    root = _project(tmp_path)
    run = kcompile("explain", "-t", "t", "args", cwd=root)
    assert 'value: ["--verbose", "--fast"]' in run.out
    assert "prod.yml:6 [prod] concatenated" in run.out
    run = kcompile("explain", "-t", "t", "parameters.replicas", cwd=root)
    assert "value: 3" in run.out
    assert "base.yml:9 [base] set (at replicas): 1  [overridden]" in run.out
    assert "prod.yml:8 [prod] overrides (at replicas): 3" in run.out
    run = kcompile("explain", "-t", "t", "limits", cwd=root)
    assert 'value: {"memory": "1Gi"}' in run.out
    assert "prod.yml:9 [prod] replaces (~)" in run.out


def test_explain_follows_chained_references(tmp_path):
    run = kcompile("explain", "-t", "t", "url", "--format", "json", cwd=_project(tmp_path))
    assert run.code == 0, run.err
    data = json.loads(run.out)
    assert data["value"] == "https://web.prod.example.com/"
    (url,) = data["contributions"]
    assert (url["file"], url["line"], url["raw"]) == ("inventory/classes/base.yml", 4,
                                                      "https://${host}/")
    (host,) = url["references"]
    assert host["ref"] == "${host}" and host["value"] == "web.prod.example.com"
    (domain,) = host["contributions"][0]["references"]
    assert domain["value"] == "prod.example.com"
    overridden, final = domain["contributions"]
    assert overridden["overridden"] and overridden["line"] == 2
    assert (final["file"], final["line"]) == ("inventory/targets/t.yml", 4)


def test_explain_missing_key_and_target(tmp_path):
    root = _project(tmp_path)
    run = kcompile("explain", "-t", "t", "nope", cwd=root)
    assert run.code == 1 and "value: (not set)" in run.out
    run = kcompile("explain", "-t", "nosuch", "a", cwd=root)
    assert run.code == 2 and "target not found" in run.err
