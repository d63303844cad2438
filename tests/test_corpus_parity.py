"""The 200-target bench corpus compiles byte for byte as Kapitan 0.36.3 compiles it.

The manifest in tests/data was written by bench/corpus_parity.py from a real
``kapitan compile``. The corpus itself comes from the project's
``gen_inventory.py`` (deterministic for a seed).
"""

import sys

import pytest
from conftest import REPO, kcompile

sys.path.insert(0, str(REPO / "bench"))
from corpus_parity import default_gen, generate, manifest_path, tree_manifest

GEN = default_gen()


@pytest.mark.skipif(not GEN.is_file(), reason=f"corpus generator not found at {GEN}")
@pytest.mark.parametrize("backend", ["reclass", "reclass-rs"])
def test_corpus_200_matches_kapitan(tmp_path, backend):
    corpus = tmp_path / "corpus"
    generate(GEN, 200, 42, corpus)
    run = kcompile("--backend", backend, cwd=corpus)
    assert run.code == 0, run.err
    expected = manifest_path(200, 42).read_text().splitlines()
    actual = tree_manifest(corpus / "compiled")
    if actual != expected:
        missing = sorted(set(expected) - set(actual))[:10]
        extra = sorted(set(actual) - set(expected))[:10]
        pytest.fail(f"differs from Kapitan's output\nexpected but not produced: {missing}\n"
                    f"produced but not expected: {extra}", pytrace=False)
