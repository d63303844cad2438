"""A whole compile: select, resolve, plan, compile in parallel, then write."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import UserError
from ..inventory import Inventory
from ..inventory.lazy import LazyGlobalInventory
from ..project import Settings
from ..refs.compiler import TagCompiler
from ..refs.store import RefStore
from .concurrency import run_targets
from .plan import TargetPlan, plan_target
from .target import CompileJob, TargetResult
from .writer import Staging, apply

log = logging.getLogger(__name__)


@dataclass
class CompileReport:
    """What a compile did."""

    targets: list[str]
    written: int = 0
    unchanged: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    read_global: list[str] = field(default_factory=list)  # targets that read inventory_global


def compile_project(settings: Settings, names: list[str] | None = None,
                    labels: dict[str, str] | None = None,
                    on_result: Callable[[TargetResult], None] | None = None,
                    inventory: Inventory | None = None) -> CompileReport:
    """Compile the selected targets into ``compiled/``; raise :class:`UserError` on bad input.

    Nothing in ``compiled/`` changes unless every selected target compiles.
    ``inventory`` reuses targets already resolved (by ``kcompile diff``).
    """
    start = time.monotonic()
    if inventory is None:
        inventory = Inventory(settings.inventory_path, settings.backend,
                              settings.compose_target_name)
    selected = inventory.select(names, labels)
    resolved, problems = inventory.resolve_partial(selected)

    plans: dict[str, TargetPlan] = {}
    for name in resolved:
        plan, errs = plan_target(inventory, name, resolved[name])
        problems.extend(errs)
        if plan is not None:
            plans[name] = plan
    if not plans:
        raise UserError(problems)
    # Targets whose plan is bad are not compiled, but the others are, so one
    # run reports every problem there is.
    compilable = [n for n in selected if n in plans]

    all_dirs = {tf.output_dir for tf in inventory.targets.values()}
    with Staging(settings.output_path) as staging:
        search_paths = [*settings.search_paths, staging.root]
        job = CompileJob(
            plans=plans,
            targets=resolved,
            # Targets resolve when a template first reads them; those being
            # compiled are resolved already, and forked workers inherit them.
            inventory_global=LazyGlobalInventory(inventory),
            target_files={n: inventory.targets[n].path for n in compilable},
            classes_dir=inventory.classes_dir,
            all_target_dirs=all_dirs,
            staging_compiled=staging.compiled,
            compiled_dir=settings.compiled_dir,
            search_paths=search_paths,
            jinja2_filters_path=settings.jinja2_filters,
            tags=TagCompiler(RefStore(settings.refs_path)),
            reveal=settings.reveal,
        )
        results = run_targets(job, compilable, settings.workers(len(compilable)), on_result)
        problems += [p for r in results for p in r.problems]
        if problems:
            raise UserError(problems)
        manifests = [r.manifest for r in results if r.manifest is not None]
        apply(
            staging,
            settings.compiled_dir,
            manifests,
            all_dirs,
            full=set(selected) == set(inventory.targets),
        )
    report = CompileReport(targets=selected, seconds=time.monotonic() - start)
    for r in results:
        report.warnings.extend(r.warnings)
        if r.read_global:
            report.read_global.append(r.name)
        if r.manifest is not None:
            report.written += len(r.manifest.changed)
            report.unchanged += len(r.manifest.files) - len(r.manifest.changed)
    return report
