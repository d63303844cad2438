"""A validation run: the files to check, their schemas, their findings.

:func:`validate_files` is the engine; :func:`target_files` lists what
``kcompile validate`` checks in ``compiled/``, and ``kcompile --validate``
hands it the staged tree of a compile instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem, UserError
from ..yamlload import YamlLoadError
from .cache import ResultCache
from .check import Validator, dotted
from .documents import Document, is_object, load_documents, object_name
from .locate import line_of
from .schemas import (
    Bundled,
    Schema,
    bundled_root,
    bundled_versions,
    crd_schemas,
    file_key,
    is_crd,
    load_schema_dir,
)
from .versions import resolve_version, target_versions

SUFFIXES = (".yml", ".yaml", ".json")
ERROR, WARNING = "error", "warning"
_CRD_MARK = b"CustomResourceDefinition"


@dataclass(frozen=True)
class FileToCheck:
    """A file to validate: the path it is shown by, where to read it, its target and version."""

    shown: str  # compiled/<target dir>/<file>
    disk: str
    target: str
    version: tuple[int, int]


@dataclass(frozen=True, order=True)
class Finding:
    """One thing wrong with an object: ``path:line: Kind/ns/name: field: message``."""

    path: str
    line: int
    obj: str
    message: str
    level: str = ERROR
    rule: str = "schema"  # schema, unknown-kind, yaml
    target: str = ""

    def render(self) -> str:
        """The one-line text form."""
        where = f"{self.path}:{self.line}" if self.line else self.path
        head = f"{where}: {self.obj}: " if self.obj else f"{where}: "
        return f"{head}{'warning: ' if self.level == WARNING else ''}{self.message}"


@dataclass(frozen=True)
class Options:
    """How to validate."""

    strict: bool = True
    strict_kinds: bool = False
    schemas_dir: str | None = None
    kubernetes_version: str | None = None  # as given on the command line


@dataclass
class Outcome:
    """What a run found."""

    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    objects: int = 0
    cached_files: int = 0
    seconds: float = 0.0

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.level == ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.level == WARNING)


class Schemas:
    """Every schema of the run: ``--schemas DIR``, the tree's CRDs, then the bundled ones."""

    def __init__(self, options: Options):
        self.root = bundled_root()
        self.versions = bundled_versions(self.root)
        self.strict = options.strict
        self.custom: dict[tuple[str, str] | str, Schema] = {}
        self.problems: list[Problem] = []
        if options.schemas_dir:
            self.custom, self.problems = load_schema_dir(options.schemas_dir, options.strict)
        self.crds: dict[tuple[str, str], Schema] = {}
        self._bundled: dict[tuple[int, int], Bundled] = {}
        self._validators: dict[str, Validator] = {}

    def add_crds(self, path: str, data: bytes) -> None:
        """The CRDs of one file (a file that can't be read adds none: it is reported anyway)."""
        try:
            docs = load_documents(data, path.endswith(".json"))
        except YamlLoadError:
            return
        for doc in docs:
            if is_crd(doc.obj):
                for key, schema in crd_schemas(doc.obj, path, self.strict).items():
                    self.crds.setdefault(key, schema)

    def context(self, version: tuple[int, int]) -> str:
        """What a file's findings depend on besides its bytes."""
        from ..compile.run import _source_digest

        custom = sorted((str(k), s.key) for k, s in {**self.custom, **self.crds}.items())
        digest = hashlib.sha256(repr(custom).encode()).hexdigest()
        return f"{_source_digest()}|{version}|{self.strict}|{digest}"

    def find(self, api_version: str, kind: str, version: tuple[int, int]) -> Schema | None:
        """The schema an object is validated against, or ``None``."""
        schema = self.custom.get((api_version, kind)) or self.custom.get(file_key(api_version, kind))
        if schema is None:
            schema = self.crds.get((api_version, kind))
        if schema is None:
            bundled = self._bundled.get(version)
            if bundled is None:
                bundled = self._bundled[version] = Bundled(self.root, version, self.strict)
            schema = bundled.get(api_version, kind)
        return schema

    def validator(self, schema: Schema) -> Validator:
        """The validator of a schema, built once."""
        v = self._validators.get(schema.key)
        if v is None:
            v = self._validators[schema.key] = Validator(schema)
        return v

    def describe(self, version: tuple[int, int]) -> str:
        return f"Kubernetes {version[0]}.{version[1]}"


def validate_files(files: list[FileToCheck], schemas: Schemas, options: Options,
                   cache: ResultCache | None = None, crd_files: list[str] = (),
                   workers: int = 1) -> Outcome:
    """Validate every Kubernetes object of ``files`` (those not cached in ``workers`` processes).

    CRDs found in ``files`` or in ``crd_files`` (other files of the tree)
    give the schemas of their custom resources. A file whose content was
    validated before in the same context is not read again.
    """
    start = time.monotonic()
    out = Outcome(files=len(files))
    contents: list[bytes] = []
    for f in files:
        with open(f.disk, "rb") as fp:
            data = fp.read()
        contents.append(data)
        if _CRD_MARK in data:
            schemas.add_crds(f.shown, data)
    for path in crd_files:
        with open(path, "rb") as fp:
            data = fp.read()
        if _CRD_MARK in data:
            schemas.add_crds(path, data)
    contexts: dict[tuple[int, int], str] = {}
    keys: list[str] = []
    results: dict[int, tuple[int, list[Finding]]] = {}
    for i, (f, data) in enumerate(zip(files, contents, strict=True)):
        context = contexts.get(f.version)
        if context is None:
            context = contexts[f.version] = schemas.context(f.version)
        keys.append(ResultCache.key(context, data))
        cached = cache.get(keys[-1]) if cache is not None else None
        if cached is not None:
            out.cached_files += 1
            results[i] = (cached[0], [Finding(f.shown, *item, target=f.target)
                                      for item in cached[1]])
    todo = [i for i in range(len(files)) if i not in results]
    results.update(_check_all(todo, files, contents, schemas, workers))
    for i in todo:
        if cache is not None:
            n, found = results[i]
            cache.put(keys[i], [n, [[x.line, x.obj, x.message, x.level, x.rule] for x in found]])
    for i in range(len(files)):
        n, found = results[i]
        out.objects += n
        for finding in found:
            if finding.rule == "unknown-kind" and options.strict_kinds:
                finding = Finding(finding.path, finding.line, finding.obj, finding.message,
                                  ERROR, finding.rule, finding.target)
            out.findings.append(finding)
    out.findings.sort()
    out.seconds = time.monotonic() - start
    return out


# Files per worker below which forking costs more than it saves.
_PER_WORKER = 200
_job: tuple[list[FileToCheck], list[bytes], Schemas] | None = None  # a forked worker's


def _check_all(todo: list[int], files: list[FileToCheck], contents: list[bytes],
               schemas: Schemas, workers: int) -> dict[int, tuple[int, list[Finding]]]:
    """Validate the files ``todo`` (indices), in forked workers when there are many."""
    workers = min(workers, len(todo) // _PER_WORKER)
    if workers <= 1:
        return {i: _check_file(files[i], contents[i], schemas) for i in todo}
    import multiprocessing

    chunks = [todo[k::workers * 4] for k in range(workers * 4)]
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers, initializer=_start_worker,
                  initargs=(os.getpid(), files, contents, schemas)) as pool:
        out: dict[int, tuple[int, list[Finding]]] = {}
        for part in pool.imap_unordered(_check_chunk, chunks):
            out.update(part)
    return out


def _start_worker(parent: int, files: list[FileToCheck], contents: list[bytes],
                  schemas: Schemas) -> None:
    """In a forked worker: die with the run, and keep the job (inherited, not copied)."""
    from ..lifetime import die_with_parent

    global _job
    die_with_parent(parent)
    _job = (files, contents, schemas)


def _check_chunk(indices: list[int]) -> dict[int, tuple[int, list[Finding]]]:
    """In a worker: validate these files of the job."""
    assert _job is not None
    files, contents, schemas = _job
    return {i: _check_file(files[i], contents[i], schemas) for i in indices}


def _check_file(f: FileToCheck, data: bytes, schemas: Schemas) -> tuple[int, list[Finding]]:
    """Validate one file's objects: how many there were, and what is wrong with them."""
    try:
        docs = load_documents(data, f.disk.endswith(".json"))
    except YamlLoadError as exc:
        return 0, [Finding(f.shown, exc.line, "", exc.message, ERROR, "yaml", f.target)]
    found: list[Finding] = []
    n = 0
    for doc in docs:
        if not is_object(doc.obj):
            continue
        n += 1
        obj: dict[str, Any] = doc.obj
        name = object_name(obj)
        schema = schemas.find(obj["apiVersion"], obj["kind"], f.version)
        if schema is None:
            found.append(Finding(f.shown, line_of(doc.node, ("kind",)), name,
                                 f"no schema for {obj['apiVersion']} {obj['kind']} "
                                 f"({schemas.describe(f.version)}, no CRD in compiled/ or --schemas)",
                                 WARNING, "unknown-kind", f.target))
            continue
        violations = schemas.validator(schema).violations(obj)
        if violations and doc.node is None:
            doc = Document(doc.obj, _json_node(data))
        for v in violations:
            where = dotted(v.path)
            found.append(Finding(f.shown, line_of(doc.node, v.path), name,
                                 f"{where}: {v.message}" if where else v.message,
                                 ERROR, "schema", f.target))
    return n, found


def _json_node(data: bytes) -> Any:
    """A JSON file's node with line marks (JSON is YAML), or ``None`` if YAML can't read it."""
    import yaml

    from ..yamlload import SafeLoader

    try:
        return yaml.compose(data, Loader=SafeLoader)
    except yaml.YAMLError:
        return None


# -- what `kcompile validate` checks ---------------------------------------------
def tree_files(compiled_dir: str, target_dir: str, other_dirs: set[str]) -> list[str]:
    """The YAML and JSON files of one target's dir (relative to it), not those of nested targets."""
    root = os.path.join(compiled_dir, target_dir)
    out: list[str] = []
    for here, dirs, files in os.walk(root):
        rel_here = os.path.relpath(here, root)
        rel_here = "" if rel_here == "." else rel_here
        dirs[:] = sorted(d for d in dirs
                         if f"{target_dir}/{rel_here}/{d}".replace("//", "/") not in other_dirs)
        out.extend(os.path.join(rel_here, n) if rel_here else n
                   for n in sorted(files) if n.endswith(SUFFIXES))
    return out


def validate_project(settings: Any, names: list[str] | None, labels: dict[str, str] | None,
                     options: Options) -> Outcome:
    """``kcompile validate``: validate the selected targets' files in ``compiled/``."""
    from ..inventory import Inventory

    schemas = Schemas(options)  # first: without the extra, say so before anything else
    inventory = Inventory(settings.inventory_path, settings.backend, settings.compose_target_name,
                          settings.class_wildcards)
    selected = inventory.select(names, labels)
    compiled = settings.compiled_dir
    all_dirs = {tf.output_dir for tf in inventory.targets.values()}
    files = []
    for name in selected:
        target_dir = inventory.targets[name].output_dir
        for rel in tree_files(compiled, target_dir, all_dirs - {target_dir}):
            path = os.path.join(compiled, target_dir, rel)
            files.append((name, rel, path, path))
    return validate_targets(settings, inventory, selected, files, options, schemas)


def validate_targets(settings: Any, inventory: Any, selected: list[str],
                     files: list[tuple[str, str, str, str]], options: Options,
                     schemas: Schemas | None = None) -> Outcome:
    """Validate the files of the selected targets: (target, rel, shown path, disk path) each.

    CRDs anywhere in ``compiled/`` (any other target's too) give their
    custom resources' schemas. Files that are not YAML or JSON are skipped.
    """
    schemas = schemas or Schemas(options)
    if schemas.problems:
        raise UserError(schemas.problems)
    default = schemas.versions[-1]
    if options.kubernetes_version:
        default = resolve_version(options.kubernetes_version, schemas.versions,
                                  "--kubernetes-version: ")
        tables = {n: {"": default} for n in selected}
    else:
        tables = target_versions(inventory, selected, default, schemas.versions)
    to_check = [FileToCheck(os.path.normpath(shown), disk, name,
                            tables[name].get(os.path.normpath(rel), tables[name][""]))
                for name, rel, shown, disk in files if rel.endswith(SUFFIXES)]
    compiled = settings.compiled_dir
    all_dirs = {tf.output_dir for tf in inventory.targets.values()}
    chosen = set(selected)
    others = [os.path.join(compiled, tf.output_dir, rel)
              for n, tf in inventory.targets.items() if n not in chosen
              for rel in tree_files(compiled, tf.output_dir, all_dirs - {tf.output_dir})]
    # A revealed compile's findings may quote a secret: they are not kept on disk.
    cache = ResultCache(settings.output_path, enabled=settings.cache and not settings.reveal)
    outcome = validate_files(to_check, schemas, options, cache, others,
                             settings.workers(len(to_check)))
    with contextlib.suppress(OSError):  # only a cache: the next run validates them again
        cache.save(everything=chosen == set(inventory.targets))
    return outcome
