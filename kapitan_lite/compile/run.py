"""A whole compile: select, skip what the cache vouches for, compile the rest, write."""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from .. import __version__
from ..errors import UserError
from ..inventory import Inventory
from ..project import Settings
from .cache import Cache, fingerprint
from .precheck import Precheck
from .workarea import Staging
from .writer import OldTree, commit, has_foreign, nested_targets, read_old_tree

if TYPE_CHECKING:
    from .target import TargetResult


# Settings that do not change what is written.
_NOT_OUTPUT = {"root", "parallelism", "verbose", "debug", "cache", "identities"}


@dataclass(frozen=True)
class NewFile:
    """A file of a target's new output: its path under compiled/ and where it is now."""

    target: str
    rel: str  # under compiled/<target dir>
    shown: str  # compiled/<target dir>/<rel>
    disk: str  # the staged file, or the one in compiled/ if unchanged


def _new_files(compiled_dir: str, staged_dir: str, results: list[TargetResult],
               fresh: set[str], target_dirs: dict[str, str]) -> list[NewFile]:
    """Every file the selected targets will have in compiled/ once committed."""
    out = []
    for r in results:
        m = r.manifest
        if m is None:
            continue
        for rel in sorted(m.files):
            shown = os.path.join(compiled_dir, m.target_dir, rel)
            disk = os.path.join(staged_dir, m.target_dir, rel) if rel in m.changed else shown
            out.append(NewFile(r.name, rel, shown, disk))
    for name in sorted(fresh):
        root = os.path.join(compiled_dir, target_dirs[name])
        nested = {d for d in target_dirs.values() if d.startswith(target_dirs[name] + "/")}
        for here, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if os.path.relpath(os.path.join(here, d),
                                                                compiled_dir) not in nested)
            for f in sorted(files):
                shown = os.path.join(here, f)
                out.append(NewFile(name, os.path.relpath(shown, root), shown, shown))
    return out


@dataclass
class CompileReport:
    """What a compile did."""

    targets: list[str]
    compiled: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    written: int = 0
    unchanged: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds (summed)
    # Compiled targets that read others through inventory_global: the names, "*" for all.
    targets_read: dict[str, set[str]] = field(default_factory=dict)


@cache
def _source_digest() -> str:
    """A digest of kapitan-lite's own code, so a changed tool never trusts old output.

    Each file counts by its inode, size, mtime and ctime, as the cache trusts
    sources: any edit or reinstall moves them, and stat is all a no-op run
    can afford.
    """
    h = hashlib.sha256(__version__.encode())
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for root, dirs, files in os.walk(pkg):
        dirs.sort()
        for f in sorted(files):
            if f.endswith(".py"):
                st = os.stat(os.path.join(root, f))
                h.update(f"{os.path.relpath(os.path.join(root, f), pkg)}\0{st.st_ino}\0"
                         f"{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\n".encode())
    return h.hexdigest()


def _bytecode_dir(store: Cache) -> str | None:
    """Where this version of the tool keeps compiled templates; those of others are removed.

    None when it can't be made (a full disk): compiled templates save time, they
    are never needed, and the compile itself reports such a disk where it writes.
    """
    name = f"jinja2-{_source_digest()[:16]}"
    path = os.path.join(store.dir, name)
    try:
        if not os.path.isdir(path):  # a new version: the old ones' templates are of no use
            with os.scandir(store.make_dir()) as entries:
                old = [e.path for e in entries if e.name.startswith("jinja2-") and e.is_dir()]
            for stale in old:
                import shutil

                shutil.rmtree(stale, ignore_errors=True)
        return store.make_dir(name)
    except OSError:
        return None


def run_fingerprint(settings: Settings) -> str:
    """The cache fingerprint of a run: tool version and code, and every output option."""
    options = {k: v for k, v in dataclasses.asdict(settings).items() if k not in _NOT_OUTPUT}
    return fingerprint(_source_digest(), options)


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """Let the run move what it keeps for its whole length out of the collector's sight.

    The cache and the inventory are some 200,000 objects that live as long
    as the run: each pass of the cyclic collector over them, in this process
    and in every forked worker, would cost time and would copy the pages
    they share. The run freezes them once loaded (``gc.freeze``); they are
    unfrozen when it ends.
    """
    try:
        yield
    finally:
        gc.unfreeze()


def compile_project(settings: Settings, names: list[str] | None = None,
                    labels: dict[str, str] | None = None,
                    on_result: Callable[[TargetResult], None] | None = None,
                    on_start: Callable[[int], None] | None = None,
                    inventory: Inventory | None = None,
                    before_commit: Callable[[Inventory, list[NewFile]], None] | None = None,
                    keep: list[object] | None = None) -> CompileReport:
    """Compile the selected targets into ``compiled/``; raise :class:`UserError` on bad input.

    Nothing in ``compiled/`` changes unless every selected target compiles.
    Targets whose inputs and output the cache vouches for are not compiled.
    ``inventory`` reuses targets resolved already (``kcompile diff`` does).
    ``before_commit`` sees every file of the selected targets' new output
    before ``compiled/`` changes, and may refuse it by raising :class:`UserError`
    (``kcompile --validate``). ``keep``: the run's cache and inventory are
    added to it, not freed on return: a process that exits next (``kcompile``)
    need not spend the time freeing them costs (some 10 ms at 1000 targets).
    """
    with _frozen_heap(), ExitStack() as scope:
        return _compile_project(settings, names, labels, on_result, on_start, inventory,
                                before_commit, keep, scope)


def _compile_project(settings: Settings, names: list[str] | None,
                     labels: dict[str, str] | None,
                     on_result: Callable[[TargetResult], None] | None,
                     on_start: Callable[[int], None] | None, inventory: Inventory | None,
                     before_commit: Callable[[Inventory, list[NewFile]], None] | None,
                     keep: list[object] | None, scope: ExitStack) -> CompileReport:
    start = time.monotonic()
    started_ns = time.time_ns()
    for path, what in ((settings.output_path, "--output-path"), (settings.compiled_dir, "compiled/")):
        if os.path.exists(path) and not os.path.isdir(path):
            raise UserError.of(f"{what} names a file, not a directory", path=path)
    if inventory is None:
        inventory = Inventory(settings.inventory_path, settings.backend,
                              settings.compose_target_name, settings.class_wildcards)
    selected = inventory.select(names, labels)
    full = set(selected) == set(inventory.targets)  # every target of the inventory
    target_dirs = {n: tf.output_dir for n, tf in inventory.targets.items()}
    all_dirs = set(target_dirs.values())

    use_cache = settings.cache and not settings.reveal
    run_print = run_fingerprint(settings)
    # The quick outputs check of the selected targets, on another CPU, while this
    # process loads the cache, hashes the inputs, builds the engine and imports
    # the input types (precheck.py).
    precheck = Precheck.start(selected, settings.output_path, run_print, settings.compiled_dir,
                              settings.workers(len(selected))) if use_cache else None
    if precheck is not None:
        scope.callback(precheck.close)
    store = Cache(settings.output_path, run_print, enabled=use_cache)
    gc.freeze()  # see _frozen_heap
    candidates = store.inputs_unchanged(selected, target_dirs, inventory.names())
    same_inputs = set(candidates)
    early = [n for n in selected if n not in same_inputs]  # their inputs changed: they compile
    report = CompileReport(targets=selected)
    fresh: set[str] = set()

    def check_outputs() -> list[str]:
        """Check the outputs of the targets whose inputs are unchanged; return those to compile."""
        quick = None  # the targets whose quick records match, if the helper ran
        if precheck is not None:
            quick = precheck.intact(store.state_stamp, lambda n: n in same_inputs
                                    and store.quick_intact(n, settings.compiled_dir))
        fresh.update(store.outputs_intact(candidates, target_dirs, settings.compiled_dir,
                                          started_ns, quick))
        report.cached = sorted(fresh)
        report.unchanged += sum(store.file_count(name) for name in fresh)
        report.timings["cache check"] = time.monotonic() - start
        late = [n for n in candidates if n not in fresh]
        if on_start is not None:
            on_start(len(early) + len(late))
        return late

    # With targets to compile already, the workers start on them while this process
    # checks the others' outputs (some 20,000 stat calls at 1000 targets) and gives
    # them those found damaged. Not with an engine that renders every stale target
    # at once before the workers fork (and --reveal, which has no cache, has no others).
    overlap = bool(early and candidates) and not getattr(inventory.engine, "batch", False)
    stale = early if overlap else early + check_outputs()

    results: list[TargetResult] = []
    if stale:
        # Imported here: a run that the cache answers needs none of them, and
        # their imports (refs, input types, Jinja2) are a good part of its time.
        from ..inputs.base import OutputOptions
        from ..inventory.lazy import LazyGlobalInventory
        from ..refs.backends import Backends
        from ..refs.compiler import TagCompiler
        from ..refs.store import RefStore
        from .concurrency import run_targets
        from .target import CompileJob

        tags = TagCompiler(RefStore(settings.refs_path), Backends(settings.identities),
                           reveal=settings.reveal, embed=settings.embed_refs)
        # Build the engine (it indexes the inventory) once, before forking.
        engine = inventory.engine
        if settings.reveal:
            # Decrypt the refs the targets' inventories name once, here, before
            # the workers fork and inherit the plaintexts (else each worker would
            # decrypt them again). That needs the targets resolved here.
            resolved, _ = inventory.resolve_partial(stale)
            tags.prefetch((t["parameters"] for t in resolved.values()),
                          threads=2 * settings.workers(len(stale)))
        elif getattr(engine, "batch", False) and len(stale) > 1:
            # reclass-rs renders many targets fastest at once, in its own threads;
            # do it before forking so workers inherit the result.
            inventory.resolve_partial(stale)
        with Staging(settings.output_path) as staging:
            report.warnings.extend(staging.notices)
            job = CompileJob(
                inventory=inventory,
                # Targets resolve when a template first reads them; forked
                # workers inherit whatever the parent resolved already.
                inventory_global=LazyGlobalInventory(inventory),
                staging_compiled=staging.compiled,
                compiled_dir=settings.compiled_dir,
                search_paths=[*settings.search_paths, staging.root],
                jinja2_filters_path=settings.jinja2_filters,
                tags=tags,
                nested_dirs=nested_targets(all_dirs),
                # Templates compile once, not once per worker or run (--no-cache too).
                bytecode_dir=_bytecode_dir(store),
                track_deps=store.enabled,
                reveal=settings.reveal,
                output=OutputOptions(settings.indent, settings.yaml_multiline_string_style,
                                     settings.yaml_dump_null_as_empty),
                compile_args=settings.kapitan_args(),
            )
            workers = settings.workers(len(stale) + (len(candidates) if overlap else 0))
            if min(workers, len(stale)) > 1:
                # Nearly every project renders Jinja2 templates: imported once here,
                # it is inherited by the workers, which would each import it (some
                # 25-45 ms of CPU apiece, while they share the CPUs with this process).
                from ..inputs import jinja2  # noqa: F401
            gc.freeze()  # what the workers inherit, too
            late: list[str] = []
            old: list[OldTree] = []

            def more() -> list[str]:
                late.extend(check_outputs())
                # While the workers compile, read what the commit keeps of the old
                # tree (most of its reading at 1000 targets), all but theirs.
                old.append(read_old_tree(staging, settings.compiled_dir,
                                         {target_dirs[n] for n in stale + late}, all_dirs,
                                         full, store.intact_stamps(fresh)))
                return late

            inherited = [staging.lock_fd] if staging.lock_fd else []
            if precheck is not None and precheck.fileno() >= 0:
                inherited.append(precheck.fileno())
            results = run_targets(job, stale, workers, on_result, close_fds=inherited,
                                  more=more if overlap else None)
            stale = stale + late
            problems = [p for r in results for p in r.problems]
            if problems:
                raise UserError(problems)
            if before_commit is not None:
                before_commit(inventory, _new_files(settings.compiled_dir, staging.compiled,
                                                    results, fresh, target_dirs))
            t_apply = time.monotonic()
            done = commit(staging, settings.compiled_dir,
                          [r.manifest for r in results if r.manifest is not None],
                          all_dirs, full=full, keep_spare=not settings.reveal,
                          intact=None if old else store.intact_stamps(fresh),
                          old=old[0] if old else None)
            if done is not None:  # the targets not compiled keep their stamps
                store.restamp(fresh, done.read, done.new, done.visible_ns)
            report.timings["write"] = time.monotonic() - t_apply
    elif before_commit is not None:
        before_commit(inventory, _new_files(settings.compiled_dir, "", [], fresh, target_dirs))
    if not stale and full \
            and has_foreign(settings.compiled_dir, all_dirs):
        # Nothing to compile, but a full compile still removes foreign output.
        with Staging(settings.output_path) as staging:
            report.warnings.extend(staging.notices)
            commit(staging, settings.compiled_dir, [], all_dirs, full=True)

    for r in results:
        report.compiled.append(r.name)
        report.warnings.extend(r.warnings)
        if r.deps.targets_read:
            report.targets_read[r.name] = set(r.deps.targets_read)
        for stage, seconds in r.timings.items():
            report.timings[stage] = report.timings.get(stage, 0.0) + seconds
        m = r.manifest
        if m is None:
            continue
        report.written += len(m.changed)
        report.unchanged += len(m.files) - len(m.changed)
        store.record(r.name, m.target_dir, r.inventory_deps, r.deps, m.hashes, m.dirs,
                     settings.compiled_dir, inventory.names(), started_ns)
    try:
        store.save(keep=set(inventory.targets), run_started_ns=started_ns,
                   everything=full)
    except OSError as exc:  # compiled/ is written: a cache that can't be saved costs a compile
        report.warnings.append(f"could not save the incremental cache ({exc.strerror or exc}): "
                               "the next run compiles these targets again")
    report.seconds = time.monotonic() - start
    if keep is not None:
        keep.extend((store, inventory))
    return report
