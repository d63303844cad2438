"""Both inventory engines behind one interface, checked against the conformance corpus."""

import json

import pytest
from conftest import SHARED

from kapitan_lite.errors import UserError
from kapitan_lite.inventory import Inventory
from kapitan_lite.inventory.config import load_reclass_config
from kapitan_lite.inventory.engine import make_engine

CONFORMANCE = SHARED / "conformance"
INV = CONFORMANCE / "reclass-inventory"
needs_corpus = pytest.mark.skipif(not INV.is_dir(), reason=f"no conformance corpus at {INV}")
# reclass-rs 0.11.0 differs from kapicorp-reclass on these two (known corner cases).
RS_KNOWN_DIFFERENT = {"n12", "n22"}


def _expected() -> dict:
    return json.loads((CONFORMANCE / "reclass-inventory.expected.json").read_text())


@needs_corpus
@pytest.mark.parametrize("backend", ["kapitan-lite", "reclass", "reclass-rs"])
def test_conformance_corpus(backend):
    expected = _expected()
    engine = make_engine(backend, str(INV), load_reclass_config(str(INV)))
    checked = 0
    for node, want in sorted(expected.items()):
        if backend == "reclass-rs" and node in RS_KNOWN_DIFFERENT:
            continue
        got = engine.render(node)
        assert got["classes"] == want["classes"], node
        assert got["applications"] == want["applications"], node
        assert got["parameters"] == want["parameters"], node
        checked += 1
    assert checked == 26 if backend != "reclass-rs" else checked >= 24


@needs_corpus
def test_inventory_reads_reclass_config_nodes_uri():
    inv = Inventory(str(INV))
    assert len(inv.names()) == 26  # from nodes_uri: nodes


def test_make_engine_rejects_unknown():
    with pytest.raises(ValueError, match="unknown inventory backend"):
        make_engine("omegaconf", ".", {})


def test_missing_inventory_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="inventory not found"):
        Inventory(str(tmp_path / "nope"))
    (tmp_path / "inv").mkdir()
    with pytest.raises(UserError, match="no classes directory"):
        Inventory(str(tmp_path / "inv"))
