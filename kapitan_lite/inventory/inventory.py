"""The inventory: targets, their resolution through an engine, and selection."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from ..errors import Problem, UserError
from .config import CONFIG_FILE, absolute_uri, load_reclass_config
from .engine import DEFAULT_ENGINE, make_engine
from .engine_api import Engine, EngineError, EngineProblems
from .kapitan_model import normalise_kapitan
from .targets import TargetFile, discover_targets

if TYPE_CHECKING:  # a run the cache answers loads neither the engine nor YAML
    from .locate import Locator
    from .native.provenance import Explanation
    from .wildcards import Expansion

Target = dict[str, Any]  # {parameters, classes, applications, exports}


class Inventory:
    """A reclass inventory in Kapitan's layout, resolved lazily per target."""

    def __init__(self, inventory_path: str, backend: str = DEFAULT_ENGINE,
                 compose_node_name: bool = False, class_wildcards: bool = False):
        if not os.path.isdir(inventory_path):
            raise UserError.of("inventory not found (no such directory)", path=inventory_path)
        self.path = inventory_path
        self.backend = backend
        self.config = load_reclass_config(inventory_path, compose_node_name)
        self.nodes_dir = absolute_uri(inventory_path, self.config["nodes_uri"])
        self.classes_dir = absolute_uri(inventory_path, self.config["classes_uri"])
        if not os.path.isdir(self.classes_dir):
            raise UserError.of("inventory not found: no classes directory", path=self.classes_dir)
        self.targets: dict[str, TargetFile] = discover_targets(
            self.nodes_dir, bool(self.config.get("compose_node_name"))
        )
        # Kapitan expands every file's patterns up front: one that matches nothing
        # fails the run, even in a class no selected target uses.
        self.wildcards: Expansion | None = None
        if class_wildcards:
            from .wildcards import scan

            self.wildcards = scan(inventory_path)
        if self.wildcards is not None and self.wildcards.problems:
            raise UserError(self.wildcards.problems)
        self._engine: Engine | None = None
        self._resolved: dict[str, Target] = {}
        self._explicit: dict[str, list[frozenset[str]]] = {}
        self._queries: dict[str, bool] = {}  # file -> uses inventory queries

    @property
    def engine(self) -> Engine:
        """The engine, built on first use."""
        if self._engine is None:
            try:
                self._engine = make_engine(self.backend, self.path, self.config, self.wildcards,
                                           self.targets)
            except EngineProblems as exc:
                raise UserError(exc.problems) from None
            except EngineError as exc:
                raise UserError.of(f"cannot load inventory: {exc.message}", path=self.path) from None
        return self._engine

    def names(self) -> list[str]:
        """Every target name, sorted."""
        return list(self.targets)

    def check_names(self, names: list[str]) -> None:
        """Fail, naming each one, when a requested target does not exist."""
        problems = []
        for name in names:
            if name not in self.targets:
                import difflib

                close = difflib.get_close_matches(name, self.targets, n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                problems.append(Problem(self.nodes_dir, 0, name, f"target not found{hint}"))
        if problems:
            raise UserError(problems)

    def get(self, name: str) -> Target:
        """One resolved target."""
        return self.resolve([name])[name]

    def resolve(self, names: list[str]) -> dict[str, Target]:
        """Resolve targets, reporting the problems of all of them at once."""
        resolved, problems = self.resolve_partial(names)
        if problems:
            raise UserError(problems)
        return resolved

    def resolve_partial(self, names: list[str]) -> tuple[dict[str, Target], list[Problem]]:
        """The targets that resolve, and the problems of those that don't."""
        self.check_names(names)
        todo = [n for n in names if n not in self._resolved]
        problems: list[Problem] = []
        if todo:
            rendered = self.engine.render_all(todo)
            for name in todo:
                result = rendered[name]
                if isinstance(result, EngineError):
                    problems.extend(self._locate(name, result))
                    continue
                target, errs = self._finish(name, result)
                if errs:
                    problems.extend(errs)
                else:
                    self._resolved[name] = target
        return {n: self._resolved[n] for n in names if n in self._resolved}, problems

    def forget(self, name: str) -> None:
        """Drop a resolved target from memory (it is resolved again if asked for)."""
        self._resolved.pop(name, None)

    def resolve_all(self) -> dict[str, Target]:
        """Every target, resolved."""
        return self.resolve(self.names())

    def dependencies(self, name: str) -> set[tuple[str, str]]:
        """The files a resolved target's parameters came from, as ``deps`` kinds.

        The target file, ``reclass-config.yml``, and every file a class it
        uses could live in (so a class that appears later counts too). A class
        name with a reference in it depends on every file it could match; a
        class using inventory queries (``$[ ]``) depends on the whole inventory,
        and one whose files hold class wildcards on the whole classes directory.
        """
        target = self._resolved[name]
        deps: set[tuple[str, str]] = {
            ("file", os.path.normpath(os.path.join(self.path, CONFIG_FILE))),
            ("file", os.path.normpath(self.targets[name].path)),
        }
        for cls in target["classes"]:
            parts = [re.sub(r"\$\{[^}]*\}", "*", p) for p in cls.split(".")]
            kind = "glob" if "${" in cls else "file"
            base = os.path.join(self.classes_dir, *parts)
            for cand in (base + ".yml", base + ".yaml", os.path.join(base, "init.yml"),
                         os.path.join(base, "init.yaml")):
                deps.add((kind, os.path.normpath(cand)))
        if self.wildcards is not None and any(
                kind == "file" and self.wildcards.expanded(path) is not None for kind, path in deps):
            # A pattern's matches change when a class file appears or goes.
            deps.add(("tree", os.path.normpath(self.classes_dir)))
        for kind, path in list(deps):
            if kind != "file":
                continue
            if path not in self._queries:
                self._queries[path] = _has_query(path)
            if self._queries[path]:
                return {("tree", os.path.normpath(self.path))}
        return deps

    def explain(self, name: str, path: tuple[str, ...]) -> Explanation:
        """Provenance of one key of a target's parameters (native engine only)."""
        from .native.engine import NativeEngine

        engine = self.engine
        if not isinstance(engine, NativeEngine):
            raise UserError.of(f"explain needs the kapitan-lite engine, not {self.backend}")
        try:
            return engine.explainer(name).explain(path)
        except EngineProblems as exc:
            raise UserError(exc.problems) from None

    def explicit_keys(self, name: str) -> list[frozenset[str]]:
        """For each compile item of a resolved target, the keys the inventory set itself."""
        return self._explicit.get(name, [])

    def select(self, names: list[str] | None, labels: dict[str, str] | None) -> list[str]:
        """Targets to compile: those named, or those whose labels all match, or all."""
        if names:
            self.check_names(names)
            chosen = list(dict.fromkeys(names))
        else:
            chosen = self.names()
        if labels:
            resolved = self.resolve(chosen)
            chosen = [
                n for n in chosen
                if all(resolved[n]["parameters"]["kapitan"]["labels"].get(k) == v
                       for k, v in labels.items())
            ]
            if not chosen:
                pairs = " ".join(f"{k}={v}" for k, v in labels.items())
                raise UserError.of(f"no targets found with labels {pairs}", path=self.nodes_dir)
        return chosen

    # -- internals -----------------------------------------------------------
    def _locator(self, name: str) -> Locator:
        from .locate import Locator

        return Locator(self.classes_dir, self.targets[name].path, name)

    def _locate(self, name: str, err: EngineError) -> list[Problem]:
        if isinstance(err, EngineProblems):  # the native engine locates its own problems
            return err.problems
        loc = self._locator(name)
        if err.message == "YAML error":
            return loc.yaml_problems() or [Problem(self.targets[name].path, 0, name, "YAML error")]
        message = self.wildcards.original_paths(err.message) if self.wildcards else err.message
        return loc.problems(message, self.backend)

    def _finish(self, name: str, rendered: Target) -> tuple[Target, list[Problem]]:
        params = rendered.get("parameters") or {}
        tf = self.targets[name]
        raw_items = (params.get("kapitan") or {}).get("compile") or []
        if isinstance(raw_items, list):
            self._explicit[name] = [frozenset(i) if isinstance(i, dict) else frozenset()
                                    for i in raw_items]
        params, errs = normalise_kapitan(params)
        target: Target = {
            "parameters": params,
            "classes": rendered.get("classes") or [],
            "applications": rendered.get("applications") or [],
            "exports": rendered.get("exports") or {},
        }
        if not errs:
            return target, []
        loc = self._locator(name)
        problems = []
        for msg in errs:
            m = re.search(r"(?:unknown key(?:\(s\))?|unknown input_type|unknown output_type|output_path) '?([^' ]+)'?", msg)
            path, line = tf.path, 0
            if m:
                needle = m.group(1)
                for f in loc.inventory_files():
                    line = loc.line_of(f, needle)
                    if line:
                        path = f
                        break
            problems.append(Problem(path, line, name, msg))
        return target, problems


def _has_query(path: str) -> bool:
    """Whether an inventory file uses inventory queries (``$[ ... ]``)."""
    try:
        with open(path, encoding="utf-8") as fp:
            return "$[" in fp.read()
    except (OSError, UnicodeDecodeError):
        return False
