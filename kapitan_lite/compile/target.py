"""Compile one target: resolve it, plan it, run its items in order into staging."""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem, UserError, os_problem
from ..inputs import InputType, TargetEnv, get_input_type
from ..inputs.base import InputError, InputErrors, OutputOptions
from ..inventory import Inventory
from ..inventory.lazy import LazyGlobalInventory
from ..inventory.locate import Locator
from ..refs.compiler import TagCompiler
from ..refs.store import RefError
from .deps import Deps
from .plan import expand_input_path, plan_target
from .staged import StagedTarget
from .writer import Manifest

log = logging.getLogger(__name__)


@dataclass
class TargetResult:
    """The outcome of one target: a manifest, or the problems that stopped it."""

    name: str
    manifest: Manifest | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    inventory_deps: set[tuple[str, str]] = field(default_factory=set)
    deps: Deps = field(default_factory=Deps)
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds


@dataclass
class CompileJob:
    """Everything a worker needs, shared by all targets of a run (inherited on fork)."""

    inventory: Inventory
    inventory_global: LazyGlobalInventory
    staging_compiled: str
    compiled_dir: str
    search_paths: list[str]
    jinja2_filters_path: str
    tags: TagCompiler
    nested_dirs: dict[str, set[str]]  # target dir -> other targets' dirs inside it
    bytecode_dir: str | None = None
    track_deps: bool = True  # only the cache needs them
    reveal: bool = False
    output: OutputOptions = field(default_factory=OutputOptions)
    compile_args: dict[str, Any] = field(default_factory=dict)  # kadet's kapitan.cached.args
    # Told (target, input type, path) before each input runs, and (target) after:
    # a worker notes it, so its death names what killed it.
    on_item: Callable[..., None] | None = None
    _inputs: dict[str, InputType] = field(default_factory=dict)

    def input_type(self, name: str) -> InputType:
        """One input-type instance per process, so its caches live across targets."""
        impl = self._inputs.get(name)
        if impl is None:
            impl = get_input_type(name)
            assert impl is not None, name  # the plan rejected unsupported types
            self._inputs[name] = impl
        return impl


def ref_problem(err: RefError, locator: Locator, input_path: str) -> Problem:
    """Locate a bad ref tag: the inventory line that holds it, else the template line."""
    where, line = locator.tag_use(err.tag) if err.tag else (locator.target_file, 0)
    if not line and err.tag:
        for path in ([input_path] if os.path.isfile(input_path) else
                     sorted(os.path.join(r, f) for r, _, fs in os.walk(input_path) for f in fs)):
            found = locator.line_of(path, err.tag)
            if found:
                where, line = path, found
                break
    return Problem(where, line, locator.target, str(err))


def _input_problem(exc: InputError, path: str, locator: Locator) -> Problem:
    """Locate an input's problem: its own file and line, else the inventory text it names."""
    where, line = exc.path or path, exc.line
    if exc.tag and not line:
        # The tag came from the inventory, not from the template.
        where, line = locator.tag_use(exc.tag)
    elif exc.ref and not line:
        where, line = locator.ref_use(exc.ref)
    return Problem(where, line, locator.target, exc.message)


def compile_target(job: CompileJob, name: str) -> TargetResult:
    """Resolve target ``name``, compile it into staging, compare it with ``compiled/``."""
    try:
        return _compile_target(job, name)
    except OSError as exc:  # a full disk, missing permissions... while writing staging
        problem = os_problem(exc, name)
        if problem is None:
            raise
        return TargetResult(name=name, problems=[_in_compiled(problem, job)])


def _in_compiled(problem: Problem, job: CompileJob) -> Problem:
    """The problem with a staged file named as it will be in compiled/."""
    staged = os.path.normpath(job.staging_compiled) + os.sep
    if not problem.path.startswith(staged):
        return problem
    return dataclasses.replace(problem,
                               path=os.path.join(job.compiled_dir, problem.path[len(staged):]))


def _compile_target(job: CompileJob, name: str) -> TargetResult:
    result = TargetResult(name=name)
    t0 = time.perf_counter()
    resolved, problems = job.inventory.resolve_partial([name])
    if problems:
        result.problems = problems
        return result
    target = resolved[name]
    if job.track_deps:
        result.inventory_deps = job.inventory.dependencies(name)
    plan, problems = plan_target(job.inventory, name, target)
    t1 = time.perf_counter()
    result.timings["resolve"] = t1 - t0
    if plan is None:
        result.problems = problems
        return result

    deps = result.deps
    # Ref functions read the target's parameters.kapitan.secrets (gpg recipients,
    # keys); the ref files its tags read are dependencies of its output.
    tags = job.tags.for_target(name, target["parameters"]["kapitan"].get("secrets"), deps)
    env = TargetEnv(
        name=name,
        inventory=target,
        inventory_global=job.inventory_global.view(deps.targets_read.add),
        search_paths=job.search_paths,
        tags=tags,
        jinja2_filters_path=job.jinja2_filters_path,
        reveal=job.reveal,
        deps=deps,
        output=job.output,
        bytecode_dir=job.bytecode_dir,
        compile_args=job.compile_args,
    )
    staged_root = env.output_root = os.path.join(job.staging_compiled, plan.target_dir)
    nested = job.nested_dirs.get(plan.target_dir, set())
    staged = env.staged = StagedTarget(staged_root, nested)
    tfile = job.inventory.targets[name].path
    locator = Locator(job.inventory.classes_dir, tfile, name)
    for index, item in enumerate(plan.items):
        label = item.get("name") or f"compile[{index}]"
        out_dir = os.path.join(staged_root, item["output_path"] or "")
        impl = job.input_type(item["input_type"])
        on_disk = not getattr(impl, "in_memory", False)
        if on_disk or any(_reads_compiled(p) for p in item["input_paths"]):
            staged.flush()  # it works on real files: give it everything so far
        staged.mkdir(out_dir)
        if on_disk:
            os.makedirs(out_dir, exist_ok=True)
        if not getattr(impl, "tracks_deps", False):
            deps.set_volatile(f"input type {item['input_type']} does not report what it reads")
        explicit = plan.explicit[index] if index < len(plan.explicit) else frozenset()
        # Kapitan defaults jinja2's ignore_missing to true and silently skips a
        # missing template; a missing input fails here unless the inventory
        # itself asks to ignore it.
        ignore_missing = bool(item.get("ignore_missing")) and "ignore_missing" in explicit
        item_problems: list[Problem] = []
        # Some types (remove) act on the output being built, never on sources
        # or the committed compiled/: their paths resolve in staging only.
        bases = job.search_paths[-1:] if getattr(impl, "output_only", False) else job.search_paths
        for input_path in item["input_paths"]:
            paths = expand_input_path(input_path, bases, deps)
            if not paths:
                if not ignore_missing:
                    where, line = locator.ref_use(input_path)
                    item_problems.append(Problem(
                        where, line, name,
                        f"{label}: input path {input_path} not found "
                        f"(searched {', '.join(bases[:-1] or ['the compiled output'])})"
                        + _fetch_hint(target, input_path)))
                continue
            for path in paths:
                if job.on_item is not None:
                    job.on_item(name, item["input_type"], path)
                try:
                    impl.compile(item, path, out_dir, env)
                except UserError as exc:  # a target read through inventory_global is broken
                    item_problems.extend(exc.problems)
                except InputError as exc:
                    item_problems.append(_input_problem(exc, path, locator))
                except InputErrors as exc:
                    item_problems.extend(_input_problem(e, path, locator) for e in exc.errors)
                except RefError as exc:
                    tags.problems.extend(getattr(exc, "errors", [exc]))
                except OSError as exc:
                    problem = os_problem(exc, name)
                    if problem is None:
                        problem = Problem(path, 0, name, f"{type(exc).__name__}: {exc}")
                    elif not problem.path:  # a failed write() does not say which file
                        problem = dataclasses.replace(problem, path=path)
                    item_problems.append(_in_compiled(problem, job))
                if job.on_item is not None:
                    job.on_item(name)
                # Every bad tag of this input, each where the inventory (or template) holds it.
                item_problems.extend(ref_problem(err, locator, path) for err in tags.take_problems())
        if on_disk:
            staged.absorb()
        if item_problems and item.get("continue_on_compile_error"):
            result.warnings.extend(p.render() for p in item_problems)
            continue
        result.problems.extend(item_problems)
    t2 = time.perf_counter()
    result.timings["render"] = t2 - t1
    if result.problems:
        return result
    try:
        manifest = staged.diff(os.path.join(job.compiled_dir, plan.target_dir))
    except OSError as exc:  # a full disk, a read-only staging area, a file where a dir goes
        problem = os_problem(exc, name) or Problem(exc.filename or staged_root, 0, name,
                                                   f"cannot stage its output: {exc.strerror or exc}")
        if not problem.path:  # a failed write() does not say which file: the staged output
            problem = dataclasses.replace(problem, path=exc.filename or staged_root)
        result.problems.append(_in_compiled(problem, job))
        return result
    manifest.target_dir = plan.target_dir
    result.manifest = manifest
    result.timings["compare"] = time.perf_counter() - t2
    return result


def _fetch_hint(target: dict, input_path: str) -> str:
    """A hint to fetch, when one of the target's dependencies declares the missing path."""
    from ..fetch.plan import declares

    deps = target["parameters"]["kapitan"].get("dependencies")
    if deps and declares(deps, input_path):
        return ": a dependency of this target writes it, run with --fetch"
    return ""


def _reads_compiled(input_path: str) -> bool:
    """Whether an input path points into compiled output (Kapitan's ``compiled/<target>/...``)."""
    return os.path.normpath(input_path).split(os.sep)[0] == "compiled"
