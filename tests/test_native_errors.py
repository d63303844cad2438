"""The native engine's located errors: every problem of a target at once, both places for conflicts."""

import pytest
from conftest import kcompile, write_tree

BASE = "parameters:\n  a: 1\n  d:\n    x: 1\n  =c: fixed\n"  # base.yml


def _errors(tmp_path, target_yaml: str, extra: dict | None = None) -> list[str]:
    files = {"inventory/classes/base.yml": BASE, "inventory/targets/t.yml": target_yaml}
    files.update(extra or {})
    write_tree(tmp_path, files)
    run = kcompile("inventory", "-t", "t", "--backend", "kapitan-lite", cwd=tmp_path)
    assert run.code == 2, run.out
    assert "Traceback" not in run.err
    return run.err_lines[:-1]


@pytest.mark.parametrize("body, expected", [
    ("classes: [base]\nparameters:\n  d: [1]\n",
     "inventory/targets/t.yml:3: t: cannot merge list over mapping at d "
     "(earlier value at inventory/classes/base.yml:3)"),
    ("classes: [base]\nparameters:\n  c: changed\n",
     "inventory/targets/t.yml:3: t: changes constant parameter c "
     "(set at inventory/classes/base.yml:5)"),
    ("classes: [base]\nparameters:\n  p: ${q}\n  q: ${p}\n",
     "inventory/targets/t.yml:3: t: reference cycle: p -> q -> p"),
    ("classes:\n  - base\n  - missing.cls\n",
     "inventory/targets/t.yml:3: t: class missing.cls not found"),
    ("classes: [base]\nparameters:\n  u: x-${nope:deep}\n",
     "inventory/targets/t.yml:3: t: undefined reference ${nope:deep} (in parameter u)"),
])
def test_located_error(tmp_path, body, expected):
    assert _errors(tmp_path, body) == [expected]


def test_all_problems_of_a_target_at_once(tmp_path):
    lines = _errors(tmp_path, "classes: [base, mid]\nparameters:\n  u: ${nope}\n  c: other\n",
                    {"inventory/classes/mid.yml": "parameters:\n  v: ${gone}\n  d: 3\n"})
    assert lines == [
        "inventory/classes/mid.yml:2: t: undefined reference ${gone} (in parameter v)",
        "inventory/classes/mid.yml:3: t: cannot merge scalar over mapping at d "
        "(earlier value at inventory/classes/base.yml:3)",
        "inventory/targets/t.yml:3: t: undefined reference ${nope} (in parameter u)",
        "inventory/targets/t.yml:4: t: changes constant parameter c "
        "(set at inventory/classes/base.yml:5)",
    ]


def test_type_conflict_names_the_conflicting_file_and_the_last_earlier_one(tmp_path):
    # base and mid both write a mapping at d: one stack item from two files.
    lines = _errors(tmp_path, "classes: [base, mid]\nparameters:\n  d: [1, 2]\n",
                    {"inventory/classes/mid.yml": "parameters:\n  d:\n    y: 2\n"})
    assert lines == [
        "inventory/targets/t.yml:3: t: cannot merge list over mapping at d "
        "(earlier value at inventory/classes/mid.yml:2)",
    ]


def test_missing_class_listed_in_a_class(tmp_path):
    lines = _errors(tmp_path, "classes: [app.web]\n", {
        "inventory/classes/app/web.yml": "classes:\n  - .sub\n  - .gone\n",
        "inventory/classes/app/sub.yml": "parameters: {}\n"})
    assert lines == ["inventory/classes/app/web.yml:3: t: class app.gone not found"]


def test_error_never_prints_the_parameters_tree(tmp_path):
    big = "".join(f"  k{i}: value-{i}\n" for i in range(200))
    lines = _errors(tmp_path, "parameters:\n" + big + "  bad: ${missing}\n")
    assert len(lines) == 1 and len(lines[0]) < 200 and "value-1" not in lines[0]
