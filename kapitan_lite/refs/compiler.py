"""Replace ref tags in compiled output with what Kapitan writes there.

Without ``--reveal``, secret types become ``?{type:path:hash8}`` (computed
from the ref file, no decryption), or ``?{type:<base64>:embedded}`` with
``--embed-refs``; ``plain`` refs are substituted with their value, as Kapitan
does. With ``--reveal`` every tag becomes its value. A tag with ``||functions``
whose ref does not exist creates it first, encrypted as its type says.

A compiler bound to one target (:meth:`TagCompiler.for_target`) collects
every bad tag as a problem instead of stopping at the first, so one run
reports them all; the caller locates and reports them.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterable
from typing import Any

from .backends import SUBSTITUTED, TYPES, Backends, RefParams
from .functions import FunctionContext, run_chain
from .reveal import RefErrors, Revealer, subvar_value
from .store import RefError, RefFile, RefStore
from .tags import TAG_RE, Tag, TagSyntaxError, find_tags, iter_strings, parse

# Types whose reveal is only decoding: nothing to gain from decrypting them early.
_CHEAP = frozenset({"plain", "base64", "env"})


class TagCompiler:
    """Compiles the ref tags found in strings and objects against a refs store."""

    def __init__(self, store: RefStore, backends: Backends | None = None, *,
                 reveal: bool = False, embed: bool = False, revealer: Revealer | None = None,
                 target: str = "", secrets: Any = None, collect: bool = False,
                 deps: Any = None):
        self.store = store
        self.backends = backends or Backends()
        self.revealer = revealer or Revealer(store, self.backends)
        self.reveal = reveal
        self.embed = embed
        self.target = target
        self.secrets = secrets  # the target's parameters.kapitan.secrets, for ref functions
        self.collect = collect
        self.problems: list[RefError] = []
        # A Deps (compile/deps.py) that hears every ref file read, for the cache.
        self.deps = deps

    def for_target(self, name: str, secrets: Any, deps: Any = None) -> TagCompiler:
        """A compiler for one target: same store and caches, its own problem list and deps."""
        return TagCompiler(self.store, self.backends, reveal=self.reveal, embed=self.embed,
                           revealer=self.revealer, target=name, secrets=secrets, collect=True,
                           deps=deps)

    def _depend(self, ref_path: str, deps: Any) -> None:
        deps = deps if deps is not None else self.deps
        if deps is not None:
            with contextlib.suppress(RefError):  # a path outside refs/ is reported anyway
                deps.file(self.store.full_path(ref_path))

    def take_problems(self) -> list[RefError]:
        """The problems collected so far (and forget them)."""
        out, self.problems = self.problems, []
        return out

    # -- one tag ---------------------------------------------------------------
    def compile_tag(self, tag: Tag, deps: Any = None) -> str:
        """The output text for one tag; raises :class:`RefError` naming the ref.

        ``deps`` (a :class:`~kapitan_lite.compile.deps.Deps`) hears which ref files were read.
        """
        if not tag.embedded:
            self._depend(tag.file_path, deps)
        if tag.type not in TYPES:
            raise RefError(f"unknown ref type {tag.type!r} in {tag.text}")
        if tag.embedded:
            ref = self.revealer.resolve(tag)
            return self.revealer.reveal_tag(tag, ref) if self.reveal else tag.text
        if tag.functions and self.store.get(tag.file_path) is None:
            self._create(tag, deps)
        ref = self.revealer.resolve(tag)
        dump = self.revealer.dump(ref)  # Kapitan reads every ref it compiles through its class
        if self.reveal:
            return self.revealer.reveal_tag(tag, ref)
        if tag.type in SUBSTITUTED:
            return subvar_value(tag, ref.data, ref.encoding) if tag.subvar else ref.data
        if self.embed and tag.type != "env":  # Kapitan embeds neither plain nor env refs
            return self._embedded(tag, dump)
        return f"?{{{tag.type}:{tag.path}:{ref.hash[:8]}}}"

    @staticmethod
    def _embedded(tag: Tag, dump: dict[str, Any]) -> str:
        if tag.subvar:
            dump["embedded_subvar_path"] = tag.subvar
        payload = base64.b64encode(json.dumps(dump).encode()).decode()
        return f"?{{{tag.type}:{payload}:embedded}}"

    def _create(self, tag: Tag, deps: Any = None) -> RefFile:
        """Run the tag's functions and write the new ref, encrypted as its type says."""
        assert tag.functions is not None
        if tag.subvar:
            raise RefError(f"ref {tag.ref_name}: refs with sub-variables (@{tag.subvar}) "
                           "can't be created by functions; write it with 'kcompile refs write'")
        try:
            ctx = run_chain(tag.functions, FunctionContext(
                reveal_ref=lambda path: self._reveal_other(tag.type, path, deps)))
        except RefError as exc:
            raise RefError(f"ref {tag.ref_name} does not exist and {tag.functions} failed: "
                           f"{exc}") from None
        payload = ctx.data.encode()
        encoding = "original"
        if ctx.encode_base64:
            payload, encoding = base64.b64encode(payload), "base64"
        vault = {}
        if tag.vault is not None:
            mount, path, key = tag.vault
            vault = {"mount": mount, "path": path or tag.file_path, "key": key}
        params = RefParams(secrets=self.secrets, target=self.target, vault=vault)
        try:
            fields = self.backends.get(tag.type).encrypt(payload, encoding, params)
        except RefError as exc:
            raise RefError(f"ref {tag.ref_name} does not exist and can't be created: {exc}") from None
        return self.store.write(tag.file_path, fields, exclusive=True)

    def _reveal_other(self, type_name: str, path: str, deps: Any) -> tuple[str, str]:
        other = Tag(text=f"?{{{type_name}:{path}}}", type=type_name, path=path)
        self._depend(other.file_path, deps)
        if self.store.get(other.file_path) is None:
            raise RefError(f"reveal:{path}: ref {type_name}:{path} does not exist")
        ref = self.revealer.resolve(other)
        return self.revealer.plaintext(ref), ref.encoding

    # -- many tags --------------------------------------------------------------
    def _compile_all(self, texts: Iterable[str], deps: Any) -> dict[str, str | RefError]:
        """Compile each distinct tag text once.

        Tags whose ``||reveal:`` reads a ref that another tag creates are
        retried after the others, in as many passes as make progress, so the
        order tags appear in does not matter (Kapitan only does this in dicts).
        """
        out: dict[str, str | RefError] = {}
        pending = list(dict.fromkeys(texts))
        while pending:
            progress, failed = False, []
            for text in pending:
                try:
                    match = TAG_RE.fullmatch(text)
                    assert match is not None
                    out[text] = self.compile_tag(parse(match), deps)
                    progress = True
                except (RefError, TagSyntaxError) as exc:
                    err = exc if isinstance(exc, RefError) else RefError(str(exc))
                    err.tag = text
                    out[text] = err
                    failed.append(text)
            retry = [t for t in failed if "reveal:" in t.partition("||")[2]]
            if not progress or not retry:
                break
            pending = retry
        return out

    def _substitute(self, obj: Any, results: dict[str, str | RefError]) -> Any:
        if isinstance(obj, dict):
            return {k: self._substitute(v, results) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self._substitute(v, results) for v in obj]
        if isinstance(obj, str) and "?{" in obj:
            def one(m: Any) -> str:
                value = results.get(m.group(1))
                return value if isinstance(value, str) else m.group(1)

            return TAG_RE.sub(one, obj)
        return obj

    def _run(self, obj: Any, deps: Any) -> Any:
        texts = [m.group(1) for s in iter_strings(obj) if "?{" in s for m in TAG_RE.finditer(s)]
        if not texts:
            return obj
        results = self._compile_all(texts, deps)
        errors = [e for e in results.values() if isinstance(e, RefError)]
        if errors:
            if not self.collect:
                raise RefErrors(errors)
            self.problems.extend(errors)
        return self._substitute(obj, results)

    def compile_text(self, text: str, deps: Any = None) -> str:
        """Replace every tag in ``text`` (revealed with ``--reveal``)."""
        if "?{" not in text:
            return text
        return self._run(text, deps)

    def compile_obj(self, obj: Any, deps: Any = None) -> Any:
        """Replace tags in every string of a nested object (a new object)."""
        return self._run(obj, deps)

    def reveal_maybe(self, value: Any) -> Any:
        """The ``reveal_maybe`` filter: the value revealed under ``--reveal``, else as it is."""
        if not self.reveal or not isinstance(value, str):
            return value
        return self.compile_text(value)

    # -- before workers fork ---------------------------------------------------------
    def prefetch(self, objs: Iterable[Any], threads: int = 4) -> int:
        """With ``--reveal``, decrypt every existing encrypted ref the tags in ``objs`` name.

        Run in the parent before the compile workers fork: they inherit the
        plaintexts, so each ref is decrypted once per run, not once per worker.
        Problems are left for the compile to report where the tag is used.
        Returns how many refs were looked at.
        """
        if not self.reveal:
            return 0
        refs: dict[tuple[str, str], RefFile] = {}
        for obj in objs:
            for tag in find_tags(obj):
                if tag.type in _CHEAP or tag.type not in TYPES or tag.embedded:
                    continue
                try:
                    refs[(tag.type, tag.file_path)] = self.revealer.resolve(tag)
                except RefError:
                    continue
        self.revealer.prefetch(refs.values(), threads)
        return len(refs)


__all__ = ["RefError", "RefErrors", "TagCompiler"]
