"""Secrets fail loudly and never leak: located errors, all at once, compiled/ untouched,
no plaintext without --reveal, one decryption per ref per run."""

import os
import subprocess
from pathlib import Path

import yaml
from conftest import COMMON_CLASS, kcompile, snapshot, write_tree

COMMON = COMMON_CLASS + """\
    compile:
      - input_type: jinja2
        input_paths: [templates]
        output_path: .
"""


def _project(root: Path, targets: dict[str, str], templates: dict[str, str] | None = None,
             common: str = COMMON) -> Path:
    files = {"inventory/classes/common.yml": common}
    files.update({f"inventory/targets/{n}.yml": body for n, body in targets.items()})
    files.update({f"templates/{n}": body for n, body in (templates or {
        "secret.yml": "value: {{ inventory.parameters.secret }}\n"}).items()})
    return write_tree(root, files)


def test_every_missing_ref_is_reported_where_it_is_used(tmp_path):
    root = _project(tmp_path / "p", {
        "alpha": "classes: [common]\nparameters:\n  secret: ?{base64:targets/${target_name}/pw}\n",
        "beta": "classes: [common]\nparameters:\n  other: 1\n"
                "  secret: ?{gpg:targets/${target_name}/pw}\n",
    }, {"secret.yml": "value: {{ inventory.parameters.secret }}\n",
        "literal.txt": "x\nkey: ?{base64:literal/missing}\n"})
    write_tree(root, {"refs/targets/alpha/other": "data: eA==\ntype: base64\n"})
    (root / "compiled/alpha").mkdir(parents=True)
    (root / "compiled/alpha/old.yml").write_text("old: output\n")
    before = snapshot(root / "compiled")
    run = kcompile(cwd=root)
    assert run.code == 2
    assert run.err_lines == [
        "inventory/targets/alpha.yml:3: alpha: ref base64:targets/alpha/pw not found: "
        "no file refs/targets/alpha/pw",
        "inventory/targets/beta.yml:4: beta: ref gpg:targets/beta/pw not found: "
        "no file refs/targets/beta/pw",
        "templates/literal.txt:2: alpha: ref base64:literal/missing not found: "
        "no file refs/literal/missing",
        "templates/literal.txt:2: beta: ref base64:literal/missing not found: "
        "no file refs/literal/missing",
        "kcompile: 4 problems; compiled/ left unchanged",
    ]
    assert snapshot(root / "compiled") == before


def test_hash_mismatch_and_bad_ref_files_are_located(tmp_path):
    root = _project(tmp_path / "p", {
        "alpha": "classes: [common]\nparameters:\n  secret: ?{base64:a/pw:deadbeef}\n"
                 "  other: ?{base64:a/broken}\n",
    }, {"secret.yml": "value: {{ inventory.parameters.secret }}\n"
                      "other: {{ inventory.parameters.other }}\n"})
    write_tree(root, {"refs/a/pw": "data: eA==\nencoding: original\ntype: base64\n",
                      "refs/a/broken": "data: [not, a, string]\ntype: base64\n"})
    run = kcompile(cwd=root)
    assert run.code == 2
    assert ("inventory/targets/alpha.yml:3: alpha: ref ?{base64:a/pw:deadbeef}: hash deadbeef "
            "does not match the stored ref (base64:a/pw:") in run.err
    assert "inventory/targets/alpha.yml:4: alpha: ref file refs/a/broken: 'data' must be a string" \
        in run.err


def test_undecryptable_refs_fail_the_reveal_with_their_location(tmp_path, gpg_keys, age_keys):
    one, two = age_keys
    root = _project(tmp_path / "p", {
        "alpha": "classes: [common]\nparameters:\n  secret: ?{gpg:s/gpg}\n  age: ?{age:s/age}\n",
    }, {"secret.yml": "value: {{ inventory.parameters.secret }}\nage: {{ inventory.parameters.age }}\n"})
    assert kcompile("refs", "write", "gpg:s/gpg", "-f", "-", "-R", gpg_keys.alice, cwd=root,
                    env=gpg_keys.env, stdin="top secret").code == 0
    assert kcompile("refs", "write", "age:s/age", "-f", "-", "-R", one.recipient, cwd=root,
                    stdin="age secret").code == 0
    # tamper with the gpg ciphertext (the tag has no hash yet, so only gpg can notice)
    ref = yaml.safe_load((root / "refs/s/gpg").read_text())
    ref["data"] = ref["data"][:20] + ("A" if ref["data"][20] != "A" else "B") + ref["data"][21:]
    (root / "refs/s/gpg").write_text(yaml.safe_dump(ref))
    run = kcompile("--reveal", "--identity", str(two.identity_file), cwd=root, env=gpg_keys.env)
    assert run.code == 2
    assert "inventory/targets/alpha.yml:3: alpha: ref gpg:s/gpg: cannot decrypt" in run.err
    assert "inventory/targets/alpha.yml:4: alpha: ref age:s/age: cannot decrypt with the given " \
           "identities" in run.err
    assert not (root / "compiled").exists()
    assert "top secret" not in run.err + run.out and "age secret" not in run.err + run.out


def test_no_plaintext_without_reveal_and_reveal_maybe(tmp_path):
    root = _project(tmp_path / "p", {
        "alpha": "classes: [common]\nparameters:\n  secret: ?{base64:a/pw}\n",
    }, {"secret.yml": "tag: {{ inventory.parameters.secret }}\n"
                      "maybe: {{ inventory.parameters.secret | reveal_maybe | b64encode }}\n"})
    assert kcompile("refs", "write", "base64:a/pw", "-f", "-", cwd=root, stdin="s3cret").code == 0
    assert kcompile(cwd=root).code == 0
    text = (root / "compiled/alpha/secret.yml").read_text()
    assert "s3cret" not in text.lower()
    assert text.startswith("tag: ?{base64:a/pw:")
    assert "maybe: P3tiYXNlNjQ6YS9wd30=" in text  # the filter saw the tag, not the value
    run = kcompile("--reveal", "--output-path", "out", cwd=root)
    assert run.code == 0, run.err
    assert (root / "out/compiled/alpha/secret.yml").read_text() == "tag: s3cret\nmaybe: czNjcmV0"


def test_embed_refs_from_the_command_line_and_dot_kapitan(tmp_path):
    root = _project(tmp_path / "p", {
        "alpha": "classes: [common]\nparameters:\n  secret: ?{base64:a/pw}\n"})
    kcompile("refs", "write", "base64:a/pw", "-f", "-", cwd=root, stdin="s3cret")
    embedded = "value: ?{base64:eyJkYXRhIjogImN6TmpjbVYwIiwgImVuY29kaW5nIjogIm9yaWdpbmFsIiwg" \
               "InR5cGUiOiAiYmFzZTY0In0=:embedded}"
    assert kcompile("--embed-refs", cwd=root).code == 0
    assert (root / "compiled/alpha/secret.yml").read_text() == embedded
    assert kcompile("refs", "reveal", "-f", "compiled/alpha/secret.yml", cwd=root).out \
        == "---\nvalue: s3cret\n"
    assert kcompile(cwd=root).code == 0
    assert "embedded" not in (root / "compiled/alpha/secret.yml").read_text()
    (root / ".kapitan").write_text("compile:\n  embed-refs: true\n")
    assert kcompile(cwd=root).code == 0
    assert (root / "compiled/alpha/secret.yml").read_text() == embedded


def test_reveal_warns_when_git_tracks_the_output(tmp_path):
    root = _project(tmp_path / "p", {
        "alpha": "classes: [common]\nparameters:\n  secret: ?{base64:a/pw}\n"})
    assert kcompile("refs", "write", "base64:a/pw", "-f", "-", cwd=root, stdin="s3cret").code == 0
    assert kcompile(cwd=root).code == 0
    git = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(tmp_path)}
    run = kcompile("--reveal", cwd=root)
    assert run.code == 0 and "git tracks" not in run.err  # not a repository
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-qm", "x"]):
        subprocess.run(["git", *cmd], cwd=root, check=True, env={**os.environ, **git})
    run = kcompile("--reveal", cwd=root)
    assert run.code == 0
    assert "warning: --reveal writes plaintext secrets into compiled/, which git tracks" in run.err


def test_refs_reveal_files_and_dirs_as_kapitan(tmp_path):
    root = _project(tmp_path / "p", {"alpha": "classes: [common]\n"})
    kcompile("refs", "write", "base64:a/pw", "-f", "-", cwd=root, stdin="s3cret")
    write_tree(root, {
        "out/b.yml": "b: ?{base64:a/pw}\nlist:\n- 1\n",
        "out/a.json": '{"a": "?{base64:a/pw}"}',
        "out/z.txt": "raw ?{base64:a/pw}\n",
    })
    run = kcompile("refs", "reveal", "-f", "out", cwd=root)
    assert run.out == "---\nb: s3cret\nlist:\n  - 1\n"  # a directory: its YAML only
    assert kcompile("refs", "reveal", "-f", "out/a.json", cwd=root).out == '{\n    "a": "s3cret"\n}'
    assert kcompile("refs", "reveal", "-f", "out/z.txt", cwd=root).out == "raw s3cret\n"
    assert kcompile("refs", "reveal", "-f", "-", cwd=root, stdin="x ?{base64:a/pw}\n").out \
        == "x s3cret\n"
    # run from a subdirectory: paths are relative to where the command is typed
    assert kcompile("refs", "reveal", "-f", "z.txt", cwd=root / "out").out == "raw s3cret\n"
    (root / "out/bad.txt").write_text("one\ntwo ?{base64:a/nope}\n")
    run = kcompile("refs", "reveal", "-f", "out/bad.txt", cwd=root)
    assert run.code == 2
    assert run.err_lines[0] == "out/bad.txt:2: ref base64:a/nope not found: no file refs/a/nope"


def test_refs_write_errors(tmp_path):
    root = _project(tmp_path / "p", {"alpha": "classes: [common]\n"})
    for args, message in [
        (["base64"], "refs are named TYPE:PATH"),
        (["nope:x"], "unknown ref type 'nope'"),
        (["base64:../x"], "leaves the refs directory"),
        (["gpg:x"], "no gpg recipients: give --recipient"),
        (["awskms:x"], "no awskms key: give --key"),
        (["base64:x", "-t", "alpha"], "parameters.kapitan.secrets is not set in target alpha"),
    ]:
        run = kcompile("refs", "write", *args, "-f", "-", cwd=root, stdin="v")
        assert run.code == 2, args
        assert message in run.err, (args, run.err)
        assert "Traceback" not in run.err
        # refs never writes compiled/, so its summary does not talk about it
        assert run.err_lines[-1] == "kcompile: 1 problem", run.err


def test_each_ref_is_decrypted_once_per_run(tmp_path, gpg_keys):
    """100 gpg refs used by 50 targets, compiled by 2 forked workers: 100 decryptions."""
    refs = "".join(f"    s{i:03d}: ?{{gpg:shared/s{i:03d}||random:str:12}}\n" for i in range(100))
    common = COMMON + f"""\
    secrets:
      gpg:
        recipients:
          - fingerprint: {gpg_keys.alice}
  secrets:
{refs}"""
    root = _project(tmp_path / "p", {f"t{i:02d}": "classes: [common]\n" for i in range(50)},
                    {"secrets.txt": "{% for k, v in inventory.parameters.secrets | dictsort %}"
                                    "{{ k }}={{ v }}\n{% endfor %}"}, common)
    # a gpg that logs its arguments, first on PATH: python-gnupg runs it
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "gpg.log"
    real = subprocess.run(["which", "gpg"], capture_output=True, text=True).stdout.strip()
    (bindir / "gpg").write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {real} "$@"\n')
    (bindir / "gpg").chmod(0o755)
    env = {**gpg_keys.env, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    run = kcompile("-p", "2", cwd=root, env=env, timeout=300)  # creates the 100 refs
    assert run.code == 0, run.err
    assert len(list((root / "refs/shared").iterdir())) == 100
    log.unlink()
    run = kcompile("-p", "2", "--reveal", "--output-path", "out", cwd=root, env=env, timeout=300)
    assert run.code == 0, run.err
    decrypts = [line for line in log.read_text().splitlines() if "--decrypt" in line]
    assert len(decrypts) == 100
    first = (root / "out/compiled/t00/secrets.txt").read_text()
    assert first == (root / "out/compiled/t49/secrets.txt").read_text()
    assert len(first.splitlines()) == 100 and "?{" not in first
