"""Revealing tags: in strings, objects and files, with one decryption per ref per run.

``Revealer.reveal_tag`` checks the tag against its ref file (type, hash, a
vaultkv tag's location) before decrypting, so a tampered or swapped ref file
is an error, never another secret. Plaintexts are cached for the run, keyed
by the ref's path and hash; ``prefetch`` decrypts a set of refs up front (in
threads: gpg and the cloud SDKs wait on other processes), so that forked
compile workers inherit the values instead of each decrypting them again.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import sys
import threading
from collections.abc import Iterable
from typing import Any

import yaml

from ..outputs import yaml_dumper
from .backends import TYPES, Backends
from .model import kapitan_dump, needs_lookup
from .store import RefError, RefFile, RefStore, ref_from_fields
from .tags import TAG_RE, Tag, TagSyntaxError, parse

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


class RefErrors(RefError):
    """Several ref problems at once (each a :class:`RefError` with its tag)."""

    def __init__(self, errors: list[RefError]):
        super().__init__("\n".join(str(e) for e in errors), errors[0].tag if errors else "")
        self.errors = errors


def embedded_ref(tag: Tag) -> RefFile:
    """The ref carried inside an ``?{type:<base64 json>:embedded}`` tag."""
    try:
        obj = json.loads(base64.b64decode(tag.path, validate=True))
    except ValueError:
        raise RefError(f"{tag.text[:40]}...: embedded ref is not base64 JSON") from None
    if isinstance(obj, dict):
        obj.pop("embedded_subvar_path", None)
    return ref_from_fields("<embedded>", obj, f"embedded ref in {tag.text[:40]}...")


def subvar_value(tag: Tag, plaintext: str, encoding: str) -> str:
    """The ``@a.b`` key of a YAML mapping value (re-encoded if the ref is base64)."""
    subvar = tag.subvar or ""
    text = base64.b64decode(plaintext).decode() if encoding == "base64" else plaintext
    try:
        value: Any = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError:
        value = None
    if not isinstance(value, dict):
        raise RefError(f"ref {tag.ref_name}: value is not a YAML mapping, "
                       f"so it has no sub-variable {subvar}")
    for key in subvar.split("."):
        if not isinstance(value, dict) or key not in value:
            raise RefError(f"ref {tag.ref_name}: no sub-variable {subvar}")
        value = value[key]
    text = value if isinstance(value, str) else str(value)
    return base64.b64encode(text.encode()).decode() if encoding == "base64" else text


class Revealer:
    """Reveals tags against one refs store; caches plaintexts for the run."""

    def __init__(self, store: RefStore, backends: Backends):
        self.store = store
        self.backends = backends
        self._plain: dict[tuple[str, str, str], str | RefError] = {}
        self.decryptions = 0  # refs actually decrypted in this process
        self._lock = threading.Lock()
        self._dumps: dict[tuple[str, str, str], dict[str, Any]] = {}

    # -- refs ---------------------------------------------------------------
    def resolve(self, tag: Tag) -> RefFile:
        """The ref file a tag names, checked against the tag; never created here."""
        if tag.type not in TYPES:
            raise RefError(f"unknown ref type {tag.type!r} in {tag.text}")
        if tag.embedded:
            ref = embedded_ref(tag)
        else:
            ref = self.store.get(tag.file_path)
            if ref is None:
                where = self.store.full_path(tag.file_path)
                raise RefError(f"ref {tag.ref_name} not found: no file {where}"
                               + self.store.layout_hint())
        if not ref.typed and ref.type != tag.type:
            ref = dataclasses.replace(ref, type=tag.type)  # Kapitan reads it as the tag says
        if ref.type != tag.type:
            raise RefError(f"ref {tag.ref_name}: the ref file holds a {ref.type} ref, "
                           f"not {tag.type}")
        if tag.hash is not None and ref.hash[:8] != tag.hash:
            raise RefError(f"ref {tag.text}: hash {tag.hash} does not match the stored ref "
                           f"({tag.type}:{tag.path}:{ref.hash[:8]}); the ref file changed "
                           "since this was compiled")
        if tag.vault is not None and tag.type == "vaultkv":
            from .vaultkv import check_tag

            check_tag(ref, tag)
        return ref

    def dump(self, ref: RefFile) -> dict[str, Any]:
        """Kapitan's ``dump()`` of the ref (:mod:`.model`); checks the file as Kapitan reads it."""
        key = (ref.type, ref.path, ref.hash)
        cached = self._dumps.get(key)
        if cached is None:
            lookup = None
            if ref.type == "gpg" and needs_lookup(ref):
                gpg: Any = self.backends.get("gpg")
                lookup = gpg.lookup
            cached = kapitan_dump(ref, ref.type, lookup)
            self._dumps[key] = cached
        return dict(cached)

    def plaintext(self, ref: RefFile) -> str:
        """The ref's value, decrypted at most once per run (failures are cached too)."""
        key = (ref.type, ref.path, ref.hash)
        cached = self._plain.get(key)
        if cached is None:
            try:
                cached = self.backends.get(ref.type).reveal(ref)
                with self._lock:
                    self.decryptions += 1
            except RefError as exc:
                cached = exc
            self._plain[key] = cached
        if isinstance(cached, RefError):
            raise RefError(str(cached))
        return cached

    def prefetch(self, refs: Iterable[RefFile], threads: int = 4) -> None:
        """Decrypt these refs now (in threads), so later reveals hit the cache."""
        todo = {(r.type, r.path, r.hash): r for r in refs}
        todo = {k: r for k, r in todo.items() if k not in self._plain}
        if not todo:
            return
        for ref in todo.values():  # create SDK clients once, before the threads share them
            with contextlib.suppress(RefError):
                self.backends.get(ref.type)
        from concurrent.futures import ThreadPoolExecutor  # only to prefetch

        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            for _ in pool.map(self._try_plaintext, todo.values()):
                pass

    def _try_plaintext(self, ref: RefFile) -> None:
        with contextlib.suppress(RefError):  # cached; reported where the ref is used
            self.plaintext(ref)

    def reveal_tag(self, tag: Tag, ref: RefFile | None = None) -> str:
        """The revealed value of one tag (its sub-variable, when it has one)."""
        ref = ref or self.resolve(tag)
        value = self.plaintext(ref)
        return subvar_value(tag, value, ref.encoding) if tag.subvar else value

    # -- text, objects, files ------------------------------------------------
    def reveal_text(self, text: str) -> str:
        """``text`` with every tag revealed; :class:`RefErrors` listing every bad tag."""
        if "?{" not in text:
            return text
        errors: list[RefError] = []

        def one(m: Any) -> str:
            try:
                return self.reveal_tag(parse(m))
            except (RefError, TagSyntaxError) as exc:
                errors.append(exc if isinstance(exc, RefError) else RefError(str(exc)))
                errors[-1].tag = m.group(1)
                return m.group(1)

        out = TAG_RE.sub(one, text)
        if errors:
            raise RefErrors(errors)
        return out

    def reveal_obj(self, obj: Any) -> Any:
        """A copy of ``obj`` with the tags in every string revealed."""
        if isinstance(obj, dict):
            return {k: self.reveal_obj(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.reveal_obj(v) for v in obj]
        if isinstance(obj, str):
            return self.reveal_text(obj)
        return obj

    def reveal_file(self, path: str | None) -> tuple[str, str]:
        """Reveal a file as Kapitan does: ``(content, "yaml"|"json"|"raw")``.

        YAML files are re-dumped (sorted keys, indented lists, ``---`` before
        each document), JSON with ``indent=4, sort_keys``; other files, and
        stdin (``path`` None), line by line.
        """
        if path is None:
            return "".join(self._located(self.reveal_text, line, "<stdin>", n)
                           for n, line in enumerate(sys.stdin, 1)), "raw"
        with open(path, encoding="utf-8") as fp:
            text = fp.read()
        if path.endswith((".yml", ".yaml")):
            try:
                docs = list(yaml.load_all(text, Loader=_Loader))
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                err = RefError(f"not valid YAML: {getattr(exc, 'problem', None) or exc}")
                err.location = (path, mark.line + 1 if mark else 0)
                raise RefErrors([err]) from None
            revealed = self._located(self.reveal_obj, docs, path, 0, text)
            return yaml.dump_all(revealed, Dumper=yaml_dumper(None), default_flow_style=False,
                                 explicit_start=True), "yaml"
        if path.endswith(".json"):
            try:
                obj = json.loads(text)
            except ValueError as exc:
                err = RefError(f"not valid JSON: {exc}")
                err.location = (path, getattr(exc, "lineno", 0))
                raise RefErrors([err]) from None
            revealed = self._located(self.reveal_obj, obj, path, 0, text)
            return json.dumps(revealed, indent=4, sort_keys=True), "json"
        return "".join(self._located(self.reveal_text, line, path, n)
                       for n, line in enumerate(text.splitlines(keepends=True), 1)), "raw"

    @staticmethod
    def _located(fn: Any, value: Any, path: str, line: int, text: str = "") -> Any:
        """Run ``fn(value)``, giving each ref error the file and line of its tag."""
        try:
            return fn(value)
        except RefErrors as exc:
            for err in exc.errors:
                where = line
                if not where and text and err.tag:
                    where = next((n for n, ln in enumerate(text.splitlines(), 1)
                                  if err.tag in ln), 0)
                err.location = (path, where)
            raise

    def reveal_path(self, path: str) -> list[tuple[str, str]]:
        """A file, or a directory walked in sorted order; for a directory only the
        first kind of content found is printed (YAML, else JSON, else raw), as Kapitan does."""
        if os.path.isfile(path):
            return [self.reveal_file(path)]
        if not os.path.isdir(path):
            raise RefError(f"{path}: no such file or directory")
        parts: dict[str, list[str]] = {"yaml": [], "json": [], "raw": []}
        errors: list[RefError] = []
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for f in sorted(files):
                try:
                    content, kind = self.reveal_file(os.path.join(root, f))
                except RefErrors as exc:
                    errors.extend(exc.errors)
                    continue
                parts[kind].append(content)
        if errors:
            raise RefErrors(errors)
        for kind in ("yaml", "json", "raw"):
            if parts[kind]:
                return [("".join(parts[kind]), kind)]
        return []


# Types that reveal without any key: their plaintext can always be looked for.
KEY_FREE = frozenset({"plain", "base64"})


def reveal_plaintext(ref: RefFile) -> str | None:
    """The plaintext of ``ref`` when it reveals without a key, else ``None``.

    Used by ``kcompile check``'s leak guard, which must run anywhere (a
    pre-commit hook, CI without keys) and fast: the encrypted types would
    need keys, and a decryption (or a KMS call) per ref on every check.
    """
    if ref.type not in KEY_FREE:
        return None
    try:
        return Backends().get(ref.type).reveal(ref)
    except RefError:
        return None
