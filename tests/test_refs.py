"""Ref tags, the store and ref functions, in process: Kapitan's hash, loud failures."""

import base64
import hashlib
import json
import os

import pytest
import yaml
from cryptography.hazmat.primitives import serialization

from kapitan_lite.refs.backends import Backends
from kapitan_lite.refs.compiler import TagCompiler
from kapitan_lite.refs.reveal import RefErrors, Revealer
from kapitan_lite.refs.store import RefError, RefStore, dump_ref
from kapitan_lite.refs.tags import TAG_RE, TagSyntaxError, find_tags, parse, parse_tag


def _write_ref(refs, path, data, type_="base64", encoding="original", **extra):
    target = refs / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump({"data": data, "encoding": encoding, "type": type_, **extra},
                                     default_flow_style=False))


@pytest.fixture
def refs(tmp_path):
    refs = tmp_path / "refs"
    _write_ref(refs, "app/password", base64.b64encode(b"s3cret").decode())
    _write_ref(refs, "app/plain", "hello", type_="plain")
    _write_ref(refs, "app/plainyaml", "a:\n  b: 42\n", type_="plain")
    _write_ref(refs, "app/config", base64.b64encode(b"db:\n  user: bob\n").decode())
    return refs


@pytest.fixture
def tags(refs):
    return TagCompiler(RefStore(str(refs)))


def _reveal(refs, text):
    return TagCompiler(RefStore(str(refs)), reveal=True).compile_text(text)


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


def test_reveal_values_and_subvars(refs):
    assert _reveal(refs, "?{base64:app/password:0ccf0da9}") == "s3cret"
    assert _reveal(refs, "u=?{base64:app/config@db.user}") == "u=bob"
    assert _reveal(refs, "?{plain:app/plain}") == "hello"


def test_hash_mismatch_fails(tags, refs):
    with pytest.raises(RefError, match="hash deadbeef does not match"):
        tags.compile_text("?{base64:app/password:deadbeef}")
    # a tampered ref file no longer matches the tag compiled before
    _write_ref(refs, "app/password", base64.b64encode(b"other").decode())
    with pytest.raises(RefError, match="hash 0ccf0da9 does not match"):
        _reveal(refs, "?{base64:app/password:0ccf0da9}")


def test_missing_ref_names_ref_and_file(tags):
    with pytest.raises(RefError, match=r"ref base64:app/nope not found: no file .*refs/app/nope"):
        tags.compile_text("?{base64:app/nope}")


def test_every_bad_tag_is_reported_at_once(tags):
    with pytest.raises(RefErrors) as info:
        tags.compile_text("?{base64:a/one} ?{base64:app/password:deadbeef} ?{nosuch:x} "
                          "?{base64:app/password}")
    errors = info.value.errors
    assert [e.tag for e in errors] == ["?{base64:a/one}", "?{base64:app/password:deadbeef}",
                                       "?{nosuch:x}"]


def test_collecting_compiler_keeps_going(tags):
    target = tags.for_target("t1", None)
    out = target.compile_text("?{base64:a/one} ?{base64:app/password} ?{base64:a/two}")
    assert out == "?{base64:a/one} ?{base64:app/password:0ccf0da9} ?{base64:a/two}"
    assert [e.tag for e in target.take_problems()] == ["?{base64:a/one}", "?{base64:a/two}"]
    assert target.take_problems() == []


def test_ref_file_of_another_type_is_refused(tags, refs):
    with pytest.raises(RefError, match="holds a plain ref, not base64"):
        tags.compile_text("?{base64:app/plain}")


def test_ref_paths_cannot_escape(tags, tmp_path):
    (tmp_path / "outside").write_text("data: x\ntype: plain\n")
    with pytest.raises(RefError, match="leaves the refs directory"):
        tags.compile_text("?{plain:../outside}")
    os.symlink(tmp_path / "outside", tmp_path / "refs" / "link")
    with pytest.raises(RefError, match="through a link"):
        tags.compile_text("?{plain:link}")


def test_unknown_type(tags):
    with pytest.raises(RefError, match="unknown ref type 'vault'"):
        tags.compile_text("?{vault:app/password}")


def test_tag_grammar():
    tag = parse(TAG_RE.search("a ?{vaultkv:path/x:mount:in/vault:key} b"))
    assert (tag.path, tag.vault) == ("path/x", ("mount", "in/vault", "key"))
    tag = parse(TAG_RE.search("?{base64:a/b||random:str:10|base64}"))
    assert tag.functions == "||random:str:10|base64" and tag.path == "a/b"
    assert parse(TAG_RE.search("?{gpg:a@x.y:1234abcd}")).file_path == "a"
    assert parse_tag("?{base64:eyJh:embedded}").embedded
    with pytest.raises(TagSyntaxError):
        parse_tag("?{base64:a:b:c}")
    found = find_tags({"x": ["?{base64:a}", {"y": "p ?{gpg:b} q ?{base64:a}"}], "z": 3})
    assert [t.text for t in found] == ["?{base64:a}", "?{gpg:b}"]


def test_ref_file_is_data_only(tmp_path):
    refs = tmp_path / "refs"
    refs.mkdir()
    (refs / "evil").write_text("!!python/object/apply:os.system ['touch pwned']\n")
    with pytest.raises(RefError):
        RefStore(str(refs)).get("evil")
    assert not (tmp_path / "pwned").exists()
    (refs / "list").write_text("data: [1, 2]\ntype: base64\n")
    with pytest.raises(RefError, match="'data' must be a string"):
        RefStore(str(refs)).get("list")


def test_written_file_is_kapitans_format(tmp_path):
    store = RefStore(str(tmp_path / "refs"))
    fields = Backends().get("base64").encrypt(b"s3cret", "original", None)
    ref = store.write("a/b", fields)
    assert (tmp_path / "refs/a/b").read_text() == "data: czNjcmV0\nencoding: original\ntype: base64\n"
    assert dump_ref(ref.fields) == (tmp_path / "refs/a/b").read_text()


def test_embedded_refs(refs):
    tags = TagCompiler(RefStore(str(refs)), embed=True)
    out = tags.compile_text("?{base64:app/password}")
    payload = {"data": "czNjcmV0", "encoding": "original", "type": "base64"}
    # json.dumps default separators, as Kapitan
    assert out == "?{base64:" + base64.b64encode(json.dumps(payload).encode()).decode() + ":embedded}"
    assert _reveal(refs, out) == "s3cret"
    # an embedded tag compiles to itself, and plain refs are never embedded
    assert tags.compile_text(out) == out
    assert tags.compile_text("?{plain:app/plain}") == "hello"


# -- ref functions -----------------------------------------------------------------


def _create(refs, tag):
    tags = TagCompiler(RefStore(str(refs)))
    tags.compile_text(tag)
    parsed = parse_tag(tag)
    ref = RefStore(str(refs)).get(parsed.file_path)
    value = Revealer(RefStore(str(refs)), Backends()).plaintext(ref)
    return ref, value


@pytest.mark.parametrize(("fn", "length", "alphabet"), [
    ("random", 43, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"),
    ("random:str:10", 10, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"),
    ("random:int", 16, "0123456789"),
    ("random:loweralpha", 8, "abcdefghijklmnopqrstuvwxyz"),
    ("random:upperalpha:5", 5, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    ("random:loweralphanum:30", 30, "abcdefghijklmnopqrstuvwxyz0123456789"),
    ("random:upperalphanum", 8, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
    ("random:special:40:#!", 40, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789#!"),
    ("randomstr", 43, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"),
    ("randomstr:12", 12, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"),
    ("loweralphanum", 8, "abcdefghijklmnopqrstuvwxyz0123456789"),
    ("loweralphanum:20", 20, "abcdefghijklmnopqrstuvwxyz0123456789"),
])
def test_random_functions(refs, fn, length, alphabet):
    ref, value = _create(refs, f"?{{base64:new/x||{fn}}}")
    assert len(value) == length and set(value) <= set(alphabet)
    assert ref.encoding == "original"


def test_special_random_uses_punctuation(refs):
    _, value = _create(refs, "?{base64:new/x||random:special:200}")
    assert len(value) == 200 and any(c in "!\"#$%&'()*+,-./;<=>?@[]^_`{}~" for c in value)


def test_base64_pseudo_function_and_plain_refs(refs):
    ref, value = _create(refs, "?{base64:new/x||random:int:6|base64}")
    assert ref.encoding == "base64" and base64.b64decode(value).isdigit()
    ref, value = _create(refs, "?{plain:new/p||random:int:6}")
    assert ref.type == "plain" and value.isdigit() and ref.data == value


def test_sha256_and_reveal_chain_any_order(refs):
    tags = TagCompiler(RefStore(str(refs)), reveal=True)
    # the hash comes first in the text, the ref it reads second: still created in order
    out = tags.compile_text("?{base64:new/hash||reveal:new/pw|sha256:salty} ?{base64:new/pw||random}")
    digest, password = out.split()
    assert digest == hashlib.sha256(f"salty:{password}".encode()).hexdigest()


def test_rsa_ed25519_publickey(refs):
    _, pem = _create(refs, "?{base64:keys/rsa||rsa:2048}")
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert key.key_size == 2048 and pem.startswith("-----BEGIN PRIVATE KEY-----")
    _, pub = _create(refs, "?{base64:keys/rsa.pub||reveal:keys/rsa|publickey}")
    expected = key.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    assert pub == expected.decode()
    _, ed = _create(refs, "?{base64:keys/ed||ed25519}")
    assert serialization.load_pem_private_key(ed.encode(), password=None)
    # a key stored base64-encoded is decoded before its public key is taken
    _create(refs, "?{base64:keys/ed64||ed25519|base64}")
    _, pub64 = _create(refs, "?{base64:keys/ed64.pub||reveal:keys/ed64|rsapublic}")
    assert pub64.startswith("-----BEGIN PUBLIC KEY-----")


def test_basicauth(refs):
    _, value = _create(refs, "?{base64:auth/a||basicauth:alice:pw}")
    assert base64.b64decode(value) == b"alice:pw"
    _, value = _create(refs, "?{base64:auth/b||basicauth}")
    user, password = base64.b64decode(value).decode().split(":")
    assert len(user) == 8 and user.islower() and len(password) == 8


def test_functions_run_only_when_the_ref_is_missing(tags):
    assert tags.compile_text("?{base64:app/password||random:str}") == "?{base64:app/password:0ccf0da9}"


@pytest.mark.parametrize(("tag", "message"), [
    ("?{base64:n/a||nosuch}", "nosuch: unknown ref function"),
    ("?{base64:n/a||random:str:5:x}", "random: str takes no special characters"),
    ("?{base64:n/a||random:str:abc}", "'abc' is not a number"),
    ("?{base64:n/a||random:nokind}", "unknown type 'nokind'"),
    ("?{base64:n/a||sha256}", "sha256: nothing to hash"),
    ("?{base64:n/a||ed25519:1}", "ed25519: too many arguments"),
    ("?{base64:n/a||reveal:n/missing}", "ref base64:n/missing does not exist"),
    ("?{base64:n/a||random|publickey}", "publickey: the value is not an unencrypted PEM"),
    ("?{base64:n/a@x.y||random}", "can't be created by functions"),
])
def test_function_errors(tags, refs, tag, message):
    with pytest.raises(RefError, match=message.replace("(", r"\(")):
        tags.compile_text(tag)
    assert not (refs / "n/a").exists()


def test_creation_keeps_a_ref_another_process_wrote_first(tmp_path):
    store = RefStore(str(tmp_path / "refs"))
    assert store.get("x") is None
    other = RefStore(str(tmp_path / "refs"))
    first = other.write("x", {"data": "Zmlyc3Q=", "encoding": "original", "type": "base64"})
    # this store still believes x is missing; its exclusive write must yield the first one
    kept = store.write("x", {"data": "c2Vjb25k", "encoding": "original", "type": "base64"},
                       exclusive=True)
    assert kept == first
