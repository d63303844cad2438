"""Ref tags in output: Kapitan's hash, plain substitution, loud failures."""

import base64
import hashlib

import pytest
import yaml

from kapitan_lite.refs.compiler import TagCompiler
from kapitan_lite.refs.store import RefError, RefStore
from kapitan_lite.refs.tags import TAG_RE, parse


def _write_ref(refs, path, data, type_="base64", encoding="original"):
    target = refs / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump({"data": data, "encoding": encoding, "type": type_},
                                     default_flow_style=False))


@pytest.fixture
def tags(tmp_path):
    refs = tmp_path / "refs"
    _write_ref(refs, "app/password", base64.b64encode(b"s3cret").decode())
    _write_ref(refs, "app/plain", "hello", type_="plain")
    _write_ref(refs, "app/plainyaml", "a:\n  b: 42\n", type_="plain")
    _write_ref(refs, "app/config", base64.b64encode(b"db:\n  user: bob\n").decode())
    return TagCompiler(RefStore(str(refs)))


def test_hash_is_kapitans(tags):
    # sha256("app/passwordczNjcmV0")[:8], the same value Kapitan writes
    assert hashlib.sha256(b"app/passwordczNjcmV0").hexdigest()[:8] == "0ccf0da9"
    assert tags.compile_text("pw: ?{base64:app/password}") == "pw: ?{base64:app/password:0ccf0da9}"


def test_tag_with_correct_hash_and_subvar(tags):
    assert tags.compile_text("?{base64:app/password:0ccf0da9}") == "?{base64:app/password:0ccf0da9}"
    out = tags.compile_text("?{base64:app/config@db.user}")
    digest = hashlib.sha256(b"app/config" + base64.b64encode(b"db:\n  user: bob\n")).hexdigest()
    assert out == f"?{{base64:app/config@db.user:{digest[:8]}}}"


def test_plain_refs_are_substituted(tags):
    assert tags.compile_text("x ?{plain:app/plain} y") == "x hello y"
    assert tags.compile_text("?{plain:app/plainyaml@a.b}") == "42"


def test_hash_mismatch_fails(tags):
    with pytest.raises(RefError, match="hash deadbeef does not match"):
        tags.compile_text("?{base64:app/password:deadbeef}")


def test_missing_ref_names_ref_and_file(tags):
    with pytest.raises(RefError, match=r"ref base64:app/nope not found: no file .*refs/app/nope"):
        tags.compile_text("?{base64:app/nope}")


def test_function_on_missing_ref_is_not_silently_ignored(tags):
    with pytest.raises(RefError, match="does not exist"):
        tags.compile_text("?{base64:app/new||random:str}")
    # on an existing ref the functions are not run, as in Kapitan
    assert tags.compile_text("?{base64:app/password||random:str}") == "?{base64:app/password:0ccf0da9}"


def test_ref_paths_cannot_escape(tags, tmp_path):
    (tmp_path / "outside").write_text("data: x\ntype: plain\n")
    with pytest.raises(RefError, match="leaves the refs directory"):
        tags.compile_text("?{plain:../outside}")


def test_unknown_type(tags):
    with pytest.raises(RefError, match="unknown ref type 'vault'"):
        tags.compile_text("?{vault:app/password}")


def test_tag_grammar():
    m = TAG_RE.search("a ?{vaultkv:path/x:mount:in/vault:key} b")
    assert parse(m).path == "path/x"
    m = TAG_RE.search("?{base64:a/b||random:str:10|base64}")
    tag = parse(m)
    assert tag.functions == "||random:str:10|base64" and tag.path == "a/b"
    assert parse(TAG_RE.search("?{gpg:a@x.y:1234abcd}")).file_path == "a"


def test_ref_file_is_data_only(tmp_path):
    refs = tmp_path / "refs"
    refs.mkdir()
    (refs / "evil").write_text("!!python/object/apply:os.system ['touch pwned']\n")
    with pytest.raises(RefError):
        RefStore(str(refs)).get("evil")
    assert not (tmp_path / "pwned").exists()
