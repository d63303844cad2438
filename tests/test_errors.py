"""Every user error: one located line each, all at once, exit 2, compiled/ untouched."""

from pathlib import Path

import pytest
from conftest import COMMON_CLASS, kcompile, simple_project, snapshot, write_tree


def _broken(tmp_path: Path, files: dict[str, str]) -> Path:
    root = simple_project(tmp_path / "proj")
    assert kcompile(cwd=root).code == 0  # a good compiled/ to protect
    write_tree(root, files)
    return root


def _check_failed(root: Path, before: dict, run) -> None:
    assert run.code == 2, run.err
    assert "Traceback" not in run.err
    assert snapshot(root / "compiled") == before
    assert not (root / ".kcompile-staging/compiled").exists()  # no staged output left


CASES = {
    "missing class": (
        {"inventory/targets/beta.yml": "classes:\n  - common\n  - nosuch.cls\n"},
        "inventory/targets/beta.yml:3: beta: class nosuch.cls not found",
    ),
    "undefined reference": (
        {"inventory/classes/common.yml": "classes: []\nparameters:\n  target_name: ${_reclass_:name:short}\n"
         "  kapitan:\n    vars:\n      target: ${target_name}\n  image: ${registry:host}/app\n"},
        "inventory/classes/common.yml:7: alpha: undefined reference ${registry:host} (in parameter image)",
    ),
    "yaml syntax": (
        {"inventory/classes/common.yml": "parameters:\n  a: [1, 2\n  b: 3\n"},
        "inventory/classes/common.yml:3: alpha: YAML syntax error: did not find expected ',' or ']'",
    ),
    "jinja2 syntax": (
        {"templates/app.yml": "ok\n{% if x %}\n{{ broken \n"},
        "templates/app.yml:3: alpha: TemplateSyntaxError: unexpected end of template",
    ),
    "jinja2 undefined": (
        {"templates/app.yml": "ok\n\n{{ inventory.parameters.nothere }}\n"},
        "templates/app.yml:3: alpha: UndefinedError: 'dict object' has no attribute 'nothere'",
    ),
    "unknown input type": (
        {"inventory/targets/beta.yml": "classes: [common]\nparameters:\n  replicas: 1\n  kapitan:\n"
         "    compile:\n      - input_type: jinja3\n        input_paths: [x]\n        output_path: .\n"},
        "inventory/targets/beta.yml:6: beta: parameters.kapitan.compile[1]: unknown input_type 'jinja3'",
    ),
    "unknown key": (
        {"inventory/targets/beta.yml": "classes: [common]\nparameters:\n  replicas: 1\n  kapitan:\n"
         "    compile:\n      - input_type: copy\n        input_paths: [templates]\n"
         "        output_path: .\n        ouput_type: yaml\n"},
        "inventory/targets/beta.yml:9: beta: parameters.kapitan.compile[1]: unknown key 'ouput_type'",
    ),
    "missing input path": (
        {"inventory/targets/beta.yml": "classes: [common]\nparameters:\n  replicas: 1\n  kapitan:\n"
         "    compile:\n      - input_type: jinja2\n        input_paths: [templates/gone.yml]\n"
         "        output_path: .\n"},
        "inventory/targets/beta.yml:7: beta: compile[1]: input path templates/gone.yml not found",
    ),
    "missing ref": (
        {"templates/app.yml": "password: ?{base64:targets/alpha/db}\n"},
        "templates/app.yml:1: alpha: ref base64:targets/alpha/db not found: no file refs/targets/alpha/db",
    ),
    "missing ref from inventory": (
        {"inventory/targets/beta.yml": "classes: [common]\nparameters:\n  replicas: 1\n"
         "  db:\n    password: ?{base64:targets/${target_name}/db}\n",
         "templates/app.yml": "{% if 'db' in inventory.parameters %}"
         "password: {{ inventory.parameters.db.password }}{% endif %}\n"},
        "inventory/targets/beta.yml:5: beta: ref base64:targets/beta/db not found",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("backend", ["kapitan-lite", "reclass", "reclass-rs"])
def test_error_is_located_and_compiled_untouched(tmp_path, case, backend):
    files, expected = CASES[case]
    root = _broken(tmp_path, files)
    before = snapshot(root / "compiled")
    run = kcompile("--backend", backend, cwd=root)
    _check_failed(root, before, run)
    assert any(line.startswith(expected) for line in run.err_lines), run.err
    assert run.err_lines[-1].startswith("kcompile: ")


def test_all_problems_reported_at_once(tmp_path):
    root = _broken(tmp_path, {
        "inventory/targets/beta.yml": "classes:\n  - common\n  - nosuch\n",
        "templates/app.yml": "{{ inventory.parameters.nothere }}\n",
        "inventory/targets/gamma.yml": "classes: [common]\nparameters:\n  x: ${nope}\n",
    })
    before = snapshot(root / "compiled")
    run = kcompile(cwd=root)
    _check_failed(root, before, run)
    problems = run.err_lines[:-1]
    assert len(problems) == 3, run.err
    # sorted by file: inventory/targets/beta.yml, inventory/targets/gamma.yml, templates/app.yml
    assert [p.split(": ")[1] for p in problems] == ["beta", "gamma", "alpha"]
    assert run.err_lines[-1] == "kcompile: 3 problems; compiled/ left unchanged"


def test_every_broken_template_of_every_item_at_once(tmp_path):
    # Two broken templates in one item (a directory), a third in another item.
    items = ("    compile:\n"
             "      - input_type: jinja2\n        input_paths: [templates/dir]\n        output_path: a\n"
             "      - input_type: jinja2\n        input_paths: [templates/one.yml]\n        output_path: b\n")
    root = _broken(tmp_path, {
        "inventory/targets/beta.yml": "classes: [common]\nparameters:\n  replicas: 1\n  kapitan:\n"
                                      + items,
        "templates/dir/bad1.yml": "{{ nothere1 }}\n",
        "templates/dir/good.yml": "fine\n",
        "templates/dir/bad2.yml": "ok\n{% if %}\n",
        "templates/one.yml": "{{ 1 | nosuchfilter }}\n",
    })
    before = snapshot(root / "compiled")
    run = kcompile(cwd=root)
    _check_failed(root, before, run)
    assert run.err_lines == [
        "templates/dir/bad1.yml:1: beta: UndefinedError: 'nothere1' is undefined",
        "templates/dir/bad2.yml:2: beta: TemplateSyntaxError: Expected an expression, "
        "got 'end of statement block'",
        "templates/one.yml:1: beta: TemplateAssertionError: No filter named 'nosuchfilter'.",
        "kcompile: 3 problems; compiled/ left unchanged",
    ]


def test_debug_shows_traceback(tmp_path):
    root = _broken(tmp_path, {"templates/app.yml": "{{ nothere }}\n"})
    run = kcompile("--debug", cwd=root)
    assert run.code == 2
    assert "Traceback" in run.err


def test_unknown_target_is_named_with_suggestion(project):
    run = kcompile("-t", "alhpa", cwd=project)
    assert run.code == 2
    assert "alhpa: target not found (did you mean alpha?)" in run.err


def test_vars_target_must_match_target_name(tmp_path):
    root = _broken(tmp_path, {"inventory/targets/beta.yml":
                              "classes: [common]\nparameters:\n  replicas: 1\n  target_name: other\n"})
    run = kcompile(cwd=root)
    assert run.code == 2
    assert "parameters.kapitan.vars.target is 'other' but the target is named 'beta'" in run.err


def test_bad_label_syntax(project):
    run = kcompile("-l", "envprod", cwd=project)
    assert run.code == 2
    assert "label 'envprod' must look like key=value" in run.err


def test_unclosed_quote_is_reported_at_the_opening_quote(tmp_path):
    # The quote opened on line 3 runs on to the one on line 6; the parser trips on line 6.
    root = _broken(tmp_path, {"inventory/classes/common.yml":
                              COMMON_CLASS.replace("  kapitan:\n", '  motd: "hello\n  kapitan:\n')
                              + '  x: "y"\n'})
    before = snapshot(root / "compiled")
    for backend in ("kapitan-lite", "reclass-rs"):
        run = kcompile("--backend", backend, cwd=root)
        _check_failed(root, before, run)
        assert run.err_lines[0].startswith("inventory/classes/common.yml:3: alpha: YAML syntax error"), run.err


def _age_ref(root: Path, key) -> Path:
    run = kcompile("refs", "write", "age:app/s", "-f", "-", "--recipient", key.recipient,
                   cwd=root, stdin="hush")
    assert run.code == 0, run.err
    return root / "refs/app/s"


def _tamper_age_header(ref: Path) -> None:
    import base64

    import yaml
    fields = yaml.safe_load(ref.read_text())
    raw = bytearray(base64.b64decode(fields["data"]))
    raw[19] ^= 1  # age-encryption.org/v1 -> /w1: pyrage's message spans two lines
    fields["data"] = base64.b64encode(bytes(raw)).decode()
    ref.write_text(yaml.safe_dump(fields))


@pytest.mark.parametrize("case", ["tampered age ref", "python tag in a ref file",
                                  "bad reclass-config.yml"])
def test_every_message_is_one_line(tmp_path, age_keys, case):
    root = _broken(tmp_path, {})
    if case == "tampered age ref":
        _tamper_age_header(_age_ref(root, age_keys[0]))
        run = kcompile("refs", "reveal", "--ref-file", "refs/app/s", "--identity",
                       str(age_keys[0].identity_file), cwd=root)
        expected = "refs/app/s: ref age:app/s: cannot decrypt with the given identities " \
                   "(Unknown age format. Have you tried upgrading to the latest version?)"
    elif case == "python tag in a ref file":
        write_tree(root, {"refs/app/s": "data: !!python/object/apply:os.system [\"true\"]\n"
                                        "encoding: original\ntype: base64\n",
                          "templates/app.yml": "password: ?{base64:app/s}\n"})
        run = kcompile(cwd=root)
        expected = "templates/app.yml:1: alpha: ref file refs/app/s:1 is not valid YAML: " \
                   "could not determine a constructor for the tag " \
                   "'tag:yaml.org,2002:python/object/apply:os.system'"
    else:
        write_tree(root, {"inventory/reclass-config.yml": "ignore_class_notfound: [unclosed\n"})
        run = kcompile(cwd=root)
        expected = "inventory/reclass-config.yml:2: YAML syntax error: " \
                   "did not find expected ',' or ']'"
    assert run.code == 2, run.err
    assert run.err_lines[0] == expected
    # One line per problem (two targets may share the bad ref) and the summary, nothing else.
    assert all(line.startswith(("refs/", "templates/", "inventory/")) for line in run.err_lines[:-1])
    assert run.err_lines[-1].startswith("kcompile: "), run.err
