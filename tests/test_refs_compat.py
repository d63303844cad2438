"""Refs written by Kapitan 0.36.3 work here, and refs written here work in Kapitan.

tests/refs_compat/ holds refs of every type written by real Kapitan, the
output Kapitan compiled from them (tags only, and revealed), and the
plaintexts; tests/refs_compat/regen.py regenerates it all. The reverse
direction runs kapitan itself, when it is installed (tests/conftest.py: KAPITAN).
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import REPO, content, kcompile
from refs_support import KAPITAN, LocalKms, compat_key, needs_gpg, needs_kapitan

COMPAT = REPO / "tests" / "refs_compat"
EXPECTED = json.loads((COMPAT / "expected.json").read_text())
ENV = {"KAPITAN_VAR_dbuser": "admin-from-env"}


@pytest.fixture(scope="module")
def test_key(tmp_path_factory):
    """A keyring holding the committed (test-only) key Kapitan encrypted to."""
    yield from compat_key(tmp_path_factory)


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    shutil.copytree(COMPAT / "project", root, ignore=shutil.ignore_patterns("compiled"))
    return root


def test_tags_compile_to_what_kapitan_wrote(project):
    # no key and no cloud access needed: tags come from the ref files alone
    run = kcompile(cwd=project)
    assert run.code == 0, run.err
    assert content(project / "compiled") == content(COMPAT / "project/compiled")


@needs_gpg
def test_reveal_matches_kapitans(project, test_key):
    run = kcompile("--reveal", "-t", "revealable", "--output-path", "out", cwd=project,
                   env={**test_key.env, **ENV})
    assert run.code == 0, run.err
    assert content(project / "out/compiled") == content(COMPAT / "revealed/compiled")


@needs_gpg
@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_each_kapitan_ref_reveals(project, test_key, path):
    run = kcompile("refs", "reveal", "--ref-file", f"refs/{path}", cwd=project,
                   env={**test_key.env, **ENV})
    assert run.code == 0, run.err
    assert run.out == EXPECTED[path]


def test_base64_encoded_refs_reveal_as_kapitan(project):
    run = kcompile("refs", "reveal", "--ref-file", "refs/base64/b64", cwd=project)
    assert run.out == "ZG91YmxlIGVuY29kZWQ="  # the value stays base64, as Kapitan prints it


def test_a_tampered_vaultkv_ref_is_refused(project):
    # #1586: the 5-part tag says secret:apps/db:password; point the file elsewhere
    ref = yaml.safe_load((project / "refs/vaultkv/db").read_text())
    ref["data"] = "YXBwcy9vdGhlcjphZG1pbg=="  # apps/other:admin
    (project / "refs/vaultkv/db").write_text(yaml.safe_dump(ref))
    run = kcompile("-t", "tags", cwd=project)
    assert run.code == 2
    assert ("inventory/classes/cloud.yml:7: tags: ref vaultkv:vaultkv/db: the tag says "
            "secret:apps/db:password but the ref file points at secret:apps/other:admin") in run.err


# -- the other way: refs written by kcompile, read by Kapitan ------------------------------


def _kapitan(*calls: list[str], cwd: Path, env: dict) -> list[str]:
    """Run several kapitan commands in one process (its start-up is slow); their outputs."""
    script = (
        "import contextlib, io, json, sys\n"
        "from kapitan.cli import main\n"
        "outs = []\n"
        "for argv in json.loads(sys.argv[1]):\n"
        "    sys.argv = ['kapitan', *argv]\n"
        "    buf = io.StringIO()\n"
        "    with contextlib.redirect_stdout(buf):\n"
        "        main()\n"
        "    outs.append(buf.getvalue())\n"
        "print(json.dumps(outs))\n"
    )
    proc = subprocess.run([str(KAPITAN.parent / "python"), "-c", script, json.dumps(calls)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


@needs_kapitan
@needs_gpg
def test_refs_written_here_reveal_in_kapitan(project, test_key):
    import os

    env = {**os.environ, **test_key.env}
    cases = {"plain:ours/plain": [], "base64:ours/b64": [], "base64:ours/b64b": ["--base64"],
             "env:ours/env": [], "gpg:ours/gpg": ["--recipient", test_key.alice],
             "gpg:ours/gpgb": ["--recipient", test_key.alice, "--base64"]}
    for token, args in cases.items():
        run = kcompile("refs", "write", token, "-f", "-", *args, cwd=project, env=test_key.env,
                       stdin=f"value of {token}")
        assert run.code == 0, run.err
    # Kapitan can't --ref-file an env ref (AttributeError): the tags file covers it
    files = [f"refs/{t.split(':')[1]}" for t in cases if not t.startswith("env:")]
    (project / "tags.txt").write_text("".join(f"{t}: ?{{{t}}}\n" for t in cases))
    theirs = _kapitan(*(["refs", "--reveal", "--ref-file", f] for f in files),
                      ["refs", "--reveal", "-f", "tags.txt"], cwd=project, env=env)
    ours = [kcompile("refs", "reveal", "--ref-file", f, cwd=project, env=test_key.env).out
            for f in files]
    ours.append(kcompile("refs", "reveal", "-f", "tags.txt", cwd=project, env=test_key.env).out)
    assert theirs == ours
    assert "gpg:ours/gpg: value of gpg:ours/gpg\n" in ours[-1]
    assert "env:ours/env: value of env:ours/env\n" in ours[-1]


@needs_kapitan
def test_unencrypted_ref_files_are_byte_identical_to_kapitans(tmp_path):
    import os

    value = tmp_path / "value.txt"
    value.write_text("line one\nline: two\n")
    cases = {"plain:a": [], "plain:b": ["--base64"], "base64:c": [], "base64:d": ["--base64"],
             "env:e": []}
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir()
    theirs.mkdir()
    for token, args in cases.items():
        assert kcompile("refs", "write", token, "-f", str(value), *args, cwd=ours).code == 0
    _kapitan(*(["refs", "--write", t, "-f", str(value), *a] for t, a in cases.items()),
             cwd=theirs, env=dict(os.environ))
    for token in cases:
        path = token.split(":")[1]
        assert (ours / "refs" / path).read_bytes() == (theirs / "refs" / path).read_bytes()


@needs_kapitan
def test_awskms_both_ways_with_kapitan(tmp_path, local_kms: LocalKms):
    import os

    env = {**os.environ, **local_kms.env}
    (tmp_path / "v.txt").write_text("from kapitan")
    kcompile("refs", "write", "awskms:ours", "-f", "-", "--key", local_kms.key1, cwd=tmp_path,
             env=local_kms.env, stdin="from kcompile")
    outs = _kapitan(["refs", "--write", "awskms:theirs", "-f", "v.txt", "--key", local_kms.key1],
                    ["refs", "--reveal", "--ref-file", "refs/ours"], cwd=tmp_path, env=env)
    assert outs[1] == "from kcompile"
    run = kcompile("refs", "reveal", "--ref-file", "refs/theirs", cwd=tmp_path, env=local_kms.env)
    assert run.out == "from kapitan", run.err
