"""Sharding over CI machines: ``--shard I/N`` takes a deterministic share of the targets.

Every job of a CI matrix computes the same partition on its own: the targets'
costs are the same everywhere, and a greedy longest-processing-time
partition (most costly target first, each to the least loaded share; ties go
to the lower share, equal costs by target name) turns them into N shares of
about equal cost.

A target's cost is the one recorded in ``kcompile-costs.json`` at the project
root when the project commits that file (``kcompile --record-costs`` writes
the compile time of each target it compiled, in milliseconds), else an
estimate from what the target compiles: its compile items, the number and
size of their input files, and its classes. The estimate reads only the
sources, so it is the same on every machine. A target missing from a
recorded file costs the median of those recorded.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from statistics import median_low
from typing import Any

from ..errors import UserError
from ..inventory import Inventory, Target
from ..project import Settings
from .plan import expand_input_path

COSTS_FILE = "kcompile-costs.json"
_SHARD = re.compile(r"([0-9]+)/([0-9]+)")


@dataclass(frozen=True)
class Shard:
    """Share ``index`` (1-based) of ``count``."""

    index: int
    count: int


def parse_shard(text: str) -> Shard:
    """``I/N`` as a :class:`Shard`; a clear error unless 1 <= I <= N."""
    m = _SHARD.fullmatch(text.strip())
    if m is None or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise UserError.of(f"--shard {text!r}: must be I/N with 1 <= I <= N (e.g. --shard 2/4)")
    return Shard(int(m.group(1)), int(m.group(2)))


def partition(costs: dict[str, int], count: int) -> list[list[str]]:
    """Targets split into ``count`` shares of about equal cost, each sorted by name."""
    shares: list[list[str]] = [[] for _ in range(count)]
    loads = [0] * count
    for name in sorted(costs, key=lambda n: (-costs[n], n)):
        i = min(range(count), key=lambda k: (loads[k], k))
        shares[i].append(name)
        loads[i] += costs[name]
    return [sorted(s) for s in shares]


def load_costs(root: str) -> dict[str, int]:
    """The recorded costs (target -> milliseconds); empty when the project has none."""
    path = os.path.join(root, COSTS_FILE)
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as fp:
            data = json.load(fp)
        costs = data["targets"]
        if not all(isinstance(k, str) and type(v) is int and v >= 0 for k, v in costs.items()):
            raise ValueError("costs must be whole milliseconds")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UserError.of(f"not a costs file ({exc}): write it again with "
                           "kcompile --record-costs", path=path) from None
    return costs


def save_costs(root: str, seconds: dict[str, float], known: set[str]) -> str:
    """Record compile times (seconds per target) over the file's earlier ones; the path.

    Targets no longer in the inventory (``known``) are dropped. The file is
    sorted, one target a line, so a change reads well in review.
    """
    costs = {n: c for n, c in load_costs(root).items() if n in known}
    costs.update({n: max(1, round(s * 1000)) for n, s in seconds.items()})
    path = os.path.join(root, COSTS_FILE)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fp:
        fp.write('{\n  "about": "compile time per target in ms, for kcompile --shard; '
                 'rewrite with kcompile --record-costs",\n  "targets": {\n')
        fp.write(",\n".join(f"    {json.dumps(n)}: {c}" for n, c in sorted(costs.items())))
        fp.write("\n  }\n}\n")
    os.replace(tmp, path)
    return path


def estimate(target: Target, search_paths: list[str]) -> int:
    """A machine-independent cost: compile items, their input files and sizes, classes."""
    cost = 20 + len(target["classes"])
    for item in target["parameters"]["kapitan"]["compile"]:
        cost += 10 if item.get("input_type") in ("jinja2", "copy", "remove") else 50
        for input_path in item.get("input_paths") or ():
            for found in expand_input_path(str(input_path), search_paths):
                for size in _sizes(found):
                    cost += 5 + size // 512
    return cost


def _sizes(path: str) -> list[int]:
    if os.path.isdir(path):
        return [os.path.getsize(os.path.join(root, f))
                for root, _, files in os.walk(path) for f in files]
    try:
        return [os.path.getsize(path)]
    except OSError:
        return [0]


def target_costs(inventory: Inventory, names: list[str], root: str,
                 search_paths: list[str]) -> dict[str, int]:
    """Each target's cost: recorded where the project records it, else estimated."""
    recorded = load_costs(root)
    if recorded:
        fallback = median_low(recorded.values())
        return {n: recorded.get(n, fallback) for n in names}
    # A target that does not resolve costs nothing here: its own shard reports it.
    resolved: dict[str, Any] = inventory.resolve_partial(names)[0]
    return {n: estimate(resolved[n], search_paths) if n in resolved else 0 for n in names}


def select(inventory: Inventory, names: list[str], shard: Shard, root: str,
           search_paths: list[str]) -> list[str]:
    """The share of ``names`` (already selected with -t/-l) that ``shard`` compiles."""
    if shard.count == 1:
        return names
    costs = target_costs(inventory, names, root, search_paths)
    return partition(costs, shard.count)[shard.index - 1]


def share(settings: Settings, text: str, names: list[str] | None,
          labels: dict[str, str] | None) -> tuple[Inventory, Shard, list[str]]:
    """The inventory, the shard ``text`` names, and its share of the targets -t/-l select."""
    shard = parse_shard(text)
    inventory = Inventory(settings.inventory_path, settings.backend,
                          settings.compose_target_name, settings.class_wildcards)
    chosen = inventory.select(names or None, labels or None)
    return inventory, shard, select(inventory, chosen, shard, settings.root,
                                    list(settings.search_paths))
