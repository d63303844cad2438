"""Field-level differences of documents, and revealing refs without keys."""

from __future__ import annotations

import base64

from kapitan_lite.refs.reveal import reveal_plaintext
from kapitan_lite.refs.store import RefFile
from kapitan_lite.review.objects import ObjectId, diff_documents, k8s_identity, parse_documents


def changes(old, new, kind: str = "ConfigMap"):
    oid = ObjectId("v1", kind, "ns", "x")
    return [(c.path, c.op, c.old, c.new) for c in diff_documents(old, new, oid)]


def test_identity_and_parsing():
    doc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "a"}}
    assert k8s_identity(doc) == ObjectId("v1", "Service", "a", "web")
    assert k8s_identity({"kind": "List"}) is None
    assert parse_documents("a.yml", b"a: 1\n---\n---\nb: 2\n") == [{"a": 1}, {"b": 2}]
    assert parse_documents("a.json", b'{"a": [1]}') == [{"a": [1]}]
    assert parse_documents("a.yml", b"a: [") is None
    assert parse_documents("a.txt", b"a: 1") is None


def test_paths_old_and_new_values():
    old = {"spec": {"replicas": 1, "labels": {"app.kubernetes.io/name": "a", "gone": "x"}}}
    new = {"spec": {"replicas": 3, "labels": {"app.kubernetes.io/name": "b", "new": 1}}}
    assert changes(old, new) == [
        ('spec.labels["app.kubernetes.io/name"]', "changed", "a", "b"),
        ("spec.labels.gone", "removed", "x", None),
        ("spec.labels.new", "added", None, 1),
        ("spec.replicas", "changed", 1, 3),
    ]


def test_named_list_items_are_matched_by_name():
    old = {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
    new = {"env": [{"name": "B", "value": "3"}, {"name": "A", "value": "1"},
                   {"name": "C", "value": "4"}]}
    assert changes(old, new) == [
        ("env[name=B].value", "changed", "2", "3"),
        ("env[name=C]", "added", None, {"name": "C", "value": "4"}),
        ("env", "reordered", ["A", "B"], ["B", "A"]),
    ]


def test_an_insertion_in_a_list_is_one_change():
    assert changes({"args": ["a", "b", "c"]}, {"args": ["a", "x", "b", "c"]}) == [
        ("args[1]", "added", None, "x")]
    assert changes({"args": ["a", "b"]}, {"args": ["a", "c"]}) == [
        ("args[1]", "changed", "b", "c")]


def test_type_change_is_a_change():
    assert changes({"port": 80}, {"port": "80"}) == [("port", "changed", 80, "80")]


def test_ref_tag_only_change_is_a_secret_change_without_values():
    old = {"url": "postgres://u:?{base64:t/db:11111111}@db", "plain": "a"}
    new = {"url": "postgres://u:?{base64:t/db:22222222}@db", "plain": "a"}
    [change] = diff_documents(old, new)
    assert (change.path, change.op) == ("url", "secret")
    assert change.as_dict() == {"path": "url", "op": "secret"}
    # Other text changing too is an ordinary change: tags are not secret.
    assert changes({"u": "a ?{base64:t/db:11111111}"}, {"u": "b ?{base64:t/db:22222222}"})[0][1] \
        == "changed"


def test_secret_data_is_never_shown():
    got = changes({"data": {"password": "c2VjcmV0", "user": "YQ=="}, "type": "Opaque"},
                  {"data": {"password": "bmV3", "token": "dA=="}, "type": "Other"},
                  kind="Secret")
    assert got == [("data.password", "secret", None, None), ("data.token", "secret", None, None),
                   ("data.user", "secret", None, None), ("type", "changed", "Opaque", "Other")]


def test_multi_line_strings_get_a_line_diff():
    [change] = diff_documents({"d": "a\nb\nc\n"}, {"d": "a\nB\nc\n"})
    assert change.text == ["@@ -1,3 +1,3 @@", " a", "-b", "+B", " c"]


def test_reveal_plaintext_for_key_free_types():
    def ref(type_: str, data: str, encoding: str = "original") -> RefFile:
        return RefFile(path="p", type=type_, data=data, encoding=encoding, extra={})

    assert reveal_plaintext(ref("base64", base64.b64encode(b"s3cret!").decode())) == "s3cret!"
    assert reveal_plaintext(ref("plain", "hello")) == "hello"
    # encoding: base64 reveals to the still-encoded text, as Kapitan does.
    inner = base64.b64encode(b"x").decode()
    assert reveal_plaintext(ref("base64", base64.b64encode(inner.encode()).decode(),
                                "base64")) == inner
    # Binary content reveals as the stored base64, as in Kapitan.
    binary = base64.b64encode(b"\xff\xfe").decode()
    assert reveal_plaintext(ref("base64", binary)) == binary
    assert reveal_plaintext(ref("gpg", "aGVsbG8=")) is None
