"""``--shard I/N``: N CI jobs compile disjoint shares whose union is the full compile.

A bench fleet (``bench/gen_inventory.py``) is compiled once in full and once
as three shards, each into its own output directory (as three CI machines
would); the union of the shards' ``compiled/`` equals the full one byte for
byte. ``check --shard`` checks only its share; recorded costs steer the
partition; a bad ``I/N`` exits 2.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kapitan_lite.compile.shard import COSTS_FILE, parse_shard, partition
from kapitan_lite.errors import UserError

REPO = Path(__file__).resolve().parent.parent
N = 3


def _kcompile(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "kapitan_lite", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shard") / "fleet"
    subprocess.run([sys.executable, str(REPO / "bench/gen_inventory.py"), "--targets", "9",
                    "--seed", "42", "--out", str(root)], check=True, capture_output=True)
    full = _kcompile(root, "--no-cache")  # into the project's own compiled/
    assert full.returncode == 0, full.stderr
    return root


def test_union_of_the_shards_is_the_full_compile_and_check_takes_its_share(
        fleet: Path, tmp_path: Path) -> None:
    merged: dict[str, str] = {}
    shares = []
    for i in range(1, N + 1):
        out = tmp_path / f"job{i}"
        got = _kcompile(fleet, "--shard", f"{i}/{N}", "--output-path", str(out))
        assert got.returncode == 0, got.stderr
        share = sorted(os.listdir(out / "compiled"))
        assert share, f"shard {i}/{N} compiled nothing"
        shares.append(share)
        tree = _tree(out / "compiled")
        assert not set(tree) & set(merged), "two shards wrote the same file"
        merged.update(tree)
    assert merged == _tree(fleet / "compiled")
    assert sorted(t for s in shares for t in s) == sorted(os.listdir(fleet / "compiled"))
    # Every job computes the same partition: another job for share 2, with -p 1, agrees.
    again = _kcompile(fleet, "--shard", f"2/{N}", "-p", "1", "--output-path",
                      str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr
    assert sorted(os.listdir(tmp_path / "again/compiled")) == shares[1]

    # check --shard looks at its share only: a target of share 3 goes stale.
    victim = fleet / "compiled" / shares[2][0] / "docs" / "README.md"
    original = victim.read_bytes()
    victim.write_bytes(original + b"tampered\n")
    try:
        mine = _kcompile(fleet, "check", "--shard", f"1/{N}")
        assert mine.returncode == 0, mine.stdout + mine.stderr
        assert f"({len(shares[0])} targets)" in mine.stderr
        owner = _kcompile(fleet, "check", "--shard", f"3/{N}")
        assert owner.returncode == 1 and shares[2][0] in owner.stdout, owner.stdout
    finally:
        victim.write_bytes(original)


def test_recorded_costs_steer_the_partition(fleet: Path, tmp_path: Path) -> None:
    first = sorted(os.listdir(fleet / "compiled"))[0]
    rec = _kcompile(fleet, "--record-costs", "--no-cache", "-t", first)
    costs_file = fleet / COSTS_FILE
    try:
        assert rec.returncode == 0, rec.stderr
        data = json.loads(costs_file.read_text())
        assert list(data["targets"]) == [first] and data["targets"][first] >= 1
        # A committed file: one heavy target takes a share of its own.
        names = sorted(os.listdir(fleet / "compiled"))
        heavy = names[5]
        data["targets"] = {n: 10 for n in names} | {heavy: 10 * len(names)}
        costs_file.write_text(json.dumps(data))
        out = tmp_path / "heavy"
        got = _kcompile(fleet, "--shard", "1/2", "--output-path", str(out))
        assert got.returncode == 0, got.stderr
        assert os.listdir(out / "compiled") == [heavy]
        costs_file.write_text('{"targets": {"x": 1.5}}')
        bad = _kcompile(fleet, "--shard", "1/2", "--output-path", str(out))
        assert bad.returncode == 2 and f"{COSTS_FILE}: not a costs file" in bad.stderr
    finally:
        costs_file.unlink(missing_ok=True)


@pytest.mark.parametrize("text", ["0/3", "4/3", "1/0", "x", "1/", "-1/2", "1 of 2"])
def test_bad_shard_is_a_clear_error(text: str) -> None:
    with pytest.raises(UserError, match=r"must be I/N with 1 <= I <= N"):
        parse_shard(text)


def test_bad_shard_on_the_command_line_exits_2(fleet: Path) -> None:
    got = _kcompile(fleet, "check", "--shard", "3/2")
    assert got.returncode == 2
    assert got.stderr.splitlines()[0] == \
        "--shard '3/2': must be I/N with 1 <= I <= N (e.g. --shard 2/4)"


def test_partition_is_greedy_balanced_and_stable() -> None:
    costs = {"a": 5, "b": 5, "c": 4, "d": 3, "e": 3, "f": 1}
    assert partition(costs, 2) == [["a", "c", "f"], ["b", "d", "e"]]  # loads 10 and 11
    assert partition(dict(reversed(costs.items())), 2) == partition(costs, 2)
    assert partition({"x": 1}, 3) == [["x"], [], []]
    loads = [sum(costs[n] for n in s) for s in partition(costs, 3)]
    assert max(loads) - min(loads) <= max(costs.values())
