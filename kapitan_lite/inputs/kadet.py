"""``input_type: kadet``: Python components whose ``main()`` returns the files to write.

The input path is a package directory (``components/<name>/__init__.py``).
Its ``main()`` or ``main(input_params)`` returns a mapping; each top-level
key becomes one output file, written with the item's ``output_type``
(default yaml). Values may be dicts and lists or kadet ``BaseObj`` /
``BaseModel`` objects. The component reads the target through
:mod:`kapitan_lite.kadet` (also importable as Kapitan's
``kapitan.inputs.kadet``).

As in Kapitan, a component runs afresh for every target, so module-level
code sees the target being compiled. What is kept for the life of the
worker process is the compiled bytecode of each package's ``__init__.py``,
so its source is parsed once, not once per target. No ``__pycache__`` is
written into the project.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import site
import sys
import sysconfig
import traceback
import types
from typing import Any

from ..errors import UserError
from .base import InputError, TargetEnv
from .kadet_reads import ReadRecorder, record_user_modules, recording
from .objects import write_objects

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _library_dirs() -> tuple[str, ...]:
    """Directories of installed code: frames there are not the user's."""
    dirs = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    dirs.update(site.getsitepackages())
    dirs.add(_PACKAGE_DIR)
    return tuple(os.path.abspath(d) + os.sep for d in dirs if d)


def _component_frame(exc: BaseException, library: tuple[str, ...]) -> tuple[str, int]:
    """The deepest traceback frame in the user's code (not the stdlib, packages or kcompile)."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return exc.filename, exc.lineno or 0
    found = ("", 0)
    for frame in traceback.extract_tb(exc.__traceback__):
        path = os.path.abspath(frame.filename)
        if frame.filename.startswith("<") or path.startswith(library):
            continue
        found = (frame.filename, frame.lineno or 0)
    return found


class KadetInput:
    """Runs kadet components; keeps each package's compiled code for the process."""

    # A component is arbitrary Python: what it opens, lists and imports is
    # recorded while it runs (kadet_reads.py); one that starts a process, opens
    # a socket or writes outside its output is always compiled.
    tracks_deps = True

    def __init__(self) -> None:
        self._code: dict[str, types.CodeType] = {}
        self._library = _library_dirs()

    def _compiled(self, init_path: str) -> types.CodeType:
        code = self._code.get(init_path)
        if code is None:
            with open(init_path, "rb") as fp:
                source = fp.read()
            code = self._code[init_path] = compile(source, init_path, "exec", dont_inherit=True)
        return code

    def exec_package(self, directory: str, name: str) -> types.ModuleType:
        """Run ``directory/__init__.py`` as a new package module ``name`` and return it."""
        init_path = os.path.join(directory, "__init__.py")
        spec = importlib.util.spec_from_file_location(
            name, init_path, submodule_search_locations=[directory])
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        # Registered so relative imports and pydantic models inside it resolve.
        sys.modules[name] = module
        exec(self._compiled(init_path), module.__dict__)
        return module

    def compile(self, item: dict[str, Any], input_path: str, out_dir: str, env: TargetEnv) -> None:
        """Run the component in ``input_path`` and write what its ``main()`` returns."""
        init_path = os.path.join(input_path, "__init__.py")
        if not os.path.isfile(init_path):
            raise InputError("a kadet input path must be a directory holding __init__.py",
                             input_path)
        if importlib.util.find_spec("kadet") is None:
            raise InputError("input_type kadet needs the kadet package: "
                             "a dependency of kapitan-lite: reinstall it", input_path)
        input_params = dict(item.get("input_params") or {})
        input_params.setdefault("compile_path", out_dir)
        output = self._run(init_path, input_params, env)
        write_objects(output, item, out_dir, env, source=init_path)

    def _run(self, init_path: str, input_params: dict[str, Any], env: TargetEnv) -> dict[str, Any]:
        from .. import kapitan_api as api

        directory = os.path.dirname(init_path)
        name = api.MODULE_PREFIX + os.path.basename(os.path.normpath(directory))
        before = set(sys.modules)
        dont_write = sys.dont_write_bytecode
        sys.dont_write_bytecode = True  # no __pycache__ in the user's components
        env.deps.tree(directory)  # the package, submodules and data files included
        recorder = ReadRecorder(env.deps, env.output_root or directory, self._library)
        try:
            with api.kapitan_alias(), api.running(api.ComponentRun(env, self.exec_package)), \
                    recording(recorder):
                module = self.exec_package(directory, name)
                main = getattr(module, "main", None)
                if not callable(main):
                    raise InputError("component has no main() function", init_path)
                output = main(*self._main_args(main, input_params, init_path))
                output = api.to_plain(output)
                record_user_modules(env.deps, self._library)
        except (InputError, UserError):
            raise
        except SystemExit as exc:  # the component may not end the run, nor fake success
            code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
            detail = f": {exc.code}" if isinstance(exc.code, str) else ""
            where, line = _component_frame(exc, self._library)
            raise InputError(f"component exited with status {code}{detail}",
                             where or init_path, line) from exc
        except Exception as exc:
            where, line = _component_frame(exc, self._library)
            message = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, SyntaxError):
                message = f"SyntaxError: {exc.msg}"
            if not where:
                where = init_path
            elif not os.path.abspath(where).startswith(os.path.abspath(directory) + os.sep):
                message += f" (running component {os.path.normpath(directory)})"
            raise InputError(message, where, line) from exc
        finally:
            sys.dont_write_bytecode = dont_write
            # Each target runs the component afresh: forget its modules.
            for mod in set(sys.modules) - before:
                if mod.startswith(api.MODULE_PREFIX):
                    del sys.modules[mod]
        if not isinstance(output, dict):
            raise InputError(f"main() must return a mapping of file name to content, "
                             f"got {type(output).__name__}", init_path, _def_line(module))
        return output

    @staticmethod
    def _main_args(main: Any, input_params: dict[str, Any], init_path: str) -> list[Any]:
        params = [p for p in inspect.signature(main).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(params) > 1:
            raise InputError("main() must take no parameter or one (input_params)",
                             init_path, main.__code__.co_firstlineno)
        return [input_params] if params else []


def _def_line(module: types.ModuleType) -> int:
    main = getattr(module, "main", None)
    code = getattr(main, "__code__", None)
    return code.co_firstlineno if code else 0
