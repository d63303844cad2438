"""Compile one target: run its items in order into the staging area."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem, UserError
from ..inputs import InputType, TargetEnv, get_input_type
from ..inputs.base import InputError
from ..inventory.lazy import ReadRecorder
from ..inventory.locate import Locator
from ..refs.compiler import TagCompiler
from ..refs.store import RefError
from .plan import TargetPlan, expand_input_path
from .writer import Manifest, diff_target, nested_targets

log = logging.getLogger(__name__)


@dataclass
class TargetResult:
    """The outcome of one target: a manifest, or the problems that stopped it."""

    name: str
    manifest: Manifest | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    read_global: bool = False  # its inputs read inventory_global (other targets)


@dataclass
class CompileJob:
    """Everything a worker needs, shared by all targets of a run (inherited on fork)."""

    plans: dict[str, TargetPlan]
    targets: Mapping[str, dict[str, Any]]  # resolved targets being compiled
    inventory_global: Mapping[str, Any]
    target_files: dict[str, str]  # target name -> its inventory file
    classes_dir: str
    all_target_dirs: set[str]
    staging_compiled: str
    compiled_dir: str
    search_paths: list[str]
    jinja2_filters_path: str
    tags: TagCompiler
    reveal: bool = False
    _inputs: dict[str, InputType] = field(default_factory=dict)

    def input_type(self, name: str) -> InputType:
        """One input-type instance per process, so its caches live across targets."""
        impl = self._inputs.get(name)
        if impl is None:
            impl = get_input_type(name)
            assert impl is not None, name  # the plan rejected unsupported types
            self._inputs[name] = impl
        return impl


def compile_target(job: CompileJob, name: str) -> TargetResult:
    """Compile target ``name`` into staging and compare it with ``compiled/``."""
    plan = job.plans[name]
    result = TargetResult(name=name)
    global_reads = ReadRecorder(job.inventory_global)
    env = TargetEnv(
        name=name,
        inventory=job.targets[name],
        inventory_global=global_reads,
        search_paths=job.search_paths,
        tags=job.tags,
        jinja2_filters_path=job.jinja2_filters_path,
        reveal=job.reveal,
    )
    staged_root = os.path.join(job.staging_compiled, plan.target_dir)
    tfile = job.target_files[name]
    for index, item in enumerate(plan.items):
        label = item.get("name") or f"compile[{index}]"
        out_dir = os.path.join(staged_root, item["output_path"] or "")
        os.makedirs(out_dir, exist_ok=True)
        impl = job.input_type(item["input_type"])
        explicit = plan.explicit[index] if index < len(plan.explicit) else frozenset()
        # Kapitan defaults jinja2's ignore_missing to true and silently skips a
        # missing template; a missing input fails here unless the inventory
        # itself asks to ignore it.
        ignore_missing = bool(item.get("ignore_missing")) and "ignore_missing" in explicit
        item_problems: list[Problem] = []
        for input_path in item["input_paths"]:
            paths = expand_input_path(input_path, job.search_paths)
            if not paths:
                if not ignore_missing:
                    where, line = Locator(job.classes_dir, tfile, name).ref_use(input_path)
                    item_problems.append(Problem(
                        where, line, name,
                        f"{label}: input path {input_path} not found "
                        f"(searched {', '.join(job.search_paths[:-1])})"))
                continue
            for path in paths:
                try:
                    impl.compile(item, path, out_dir, env)
                except UserError as exc:  # a target read through inventory_global is broken
                    item_problems.extend(exc.problems)
                except InputError as exc:
                    where, line = exc.path or path, exc.line
                    if exc.tag and not line:
                        # The tag came from the inventory, not from the template.
                        where, line = Locator(job.classes_dir, tfile, name).tag_use(exc.tag)
                    item_problems.append(Problem(where, line, name, exc.message))
                except RefError as exc:
                    item_problems.append(Problem(path, 0, name, str(exc)))
                except OSError as exc:
                    item_problems.append(Problem(path, 0, name, f"{type(exc).__name__}: {exc}"))
        if item_problems and item.get("continue_on_compile_error"):
            result.warnings.extend(p.render() for p in item_problems)
            continue
        result.problems.extend(item_problems)
    result.read_global = global_reads.read
    if result.problems:
        return result
    manifest = diff_target(staged_root, os.path.join(job.compiled_dir, plan.target_dir),
                           nested_targets(plan.target_dir, job.all_target_dirs))
    manifest.target_dir = plan.target_dir
    result.manifest = manifest
    return result
