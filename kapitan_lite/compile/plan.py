"""The compile plan: which items each target runs, checked before anything runs."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Any

from ..errors import Problem
from ..inputs import REGISTRY
from ..inventory import Inventory, Target
from .deps import Deps


@dataclass(frozen=True)
class TargetPlan:
    """One target's work: its output dir and its compile items in order."""

    name: str
    target_dir: str
    items: tuple[dict[str, Any], ...]
    explicit: tuple[frozenset[str], ...]  # keys each item sets itself (not defaults)


def expand_input_path(input_path: str, search_paths: list[str], deps: Deps | None = None) -> list[str]:
    """Every existing match of ``input_path`` under the search paths, sorted.

    Kapitan joins the path to each search path and globs it when it holds
    ``*?[``; it collects matches in a set, so their order is undefined. Here
    they are sorted, so the same input gives the same output. ``deps`` hears
    what the answer depended on.
    """
    found: set[str] = set()
    for base in search_paths:
        cand = os.path.join(base, input_path)
        if glob.has_magic(input_path):
            matches = glob.glob(cand)
            found.update(matches)
            if deps is not None:
                deps.glob(cand)
        else:
            exists = os.path.lexists(cand)
            if exists:
                found.add(cand)
            if deps is not None:
                deps.exists(cand)
    if deps is not None:
        for path in found:
            deps.path(path)
    return sorted(found)


def plan_target(inventory: Inventory, name: str, target: Target) -> tuple[TargetPlan | None, list[Problem]]:
    """A target's plan, or the problems with its ``parameters.kapitan``."""
    tf = inventory.targets[name]
    kap = target["parameters"]["kapitan"]
    problems: list[Problem] = []
    vars_target = kap["vars"].get("target")
    if not kap["compile"]:
        pass  # nothing to compile: Kapitan never reads vars.target then
    elif vars_target is None:
        problems.append(Problem(tf.path, 0, name, "parameters.kapitan.vars.target is not set "
                                "(set it to the target name, e.g. ${_reclass_:name:short})"))
    elif vars_target != name:
        problems.append(Problem(tf.path, 0, name, f"parameters.kapitan.vars.target is "
                                f"{vars_target!r} but the target is named {name!r}"))
    for i, item in enumerate(kap["compile"]):
        if item["input_type"] not in REGISTRY:
            problems.append(Problem(tf.path, 0, name,
                                    f"parameters.kapitan.compile[{i}]: input_type "
                                    f"{item['input_type']} is not supported yet "
                                    f"(supported: {', '.join(sorted(REGISTRY))})"))
    if problems:
        return None, problems
    explicit = tuple(inventory.explicit_keys(name)) or tuple(frozenset() for _ in kap["compile"])
    return TargetPlan(name=name, target_dir=tf.output_dir, items=tuple(kap["compile"]),
                      explicit=explicit), []
