"""Replace ref tags in compiled output with what Kapitan writes there.

Secret types become ``?{type:path:hash8}`` (no decryption needed); ``plain``
refs are substituted with their value, as Kapitan does even without
``--reveal``.
"""

from __future__ import annotations

import base64
from typing import Any

import yaml

from .store import RefError, RefStore
from .tags import REF_TYPES, TAG_RE, Tag, parse


class TagCompiler:
    """Compiles the ref tags found in strings and objects against a refs store."""

    def __init__(self, store: RefStore):
        self.store = store

    def compile_tag(self, tag: Tag, deps: Any = None) -> str:
        """The output text for one tag; raises :class:`RefError` naming the ref.

        ``deps`` (a :class:`~kapitan_lite.compile.deps.Deps`) hears which ref file was read.
        """
        if deps is not None and tag.type in REF_TYPES and not tag.embedded:
            deps.file(self.store.full_path(tag.file_path))
        try:
            return self._compile_tag(tag)
        except RefError as exc:
            if not exc.tag:
                exc.tag = tag.text
            raise

    def _compile_tag(self, tag: Tag) -> str:
        if tag.type not in REF_TYPES:
            raise RefError(f"unknown ref type {tag.type!r} in {tag.text}")
        if tag.embedded:
            raise RefError(f"embedded ref {tag.text[:40]}... is not supported yet")
        ref = self.store.get(tag.file_path)
        if ref is None:
            where = self.store.full_path(tag.file_path)
            if tag.functions:
                raise RefError(
                    f"ref {tag.type}:{tag.path} does not exist ({where}); "
                    "creating refs with ||functions is not supported yet, "
                    "write it with 'kapitan refs --write'"
                )
            raise RefError(f"ref {tag.type}:{tag.path} not found: no file {where}")
        if tag.hash is not None and ref.hash[:8] != tag.hash:
            raise RefError(
                f"ref {tag.text}: hash {tag.hash} does not match the stored ref "
                f"({tag.type}:{tag.path}:{ref.hash[:8]})"
            )
        if tag.type == "plain":
            return self._plain_value(tag, ref.data, ref.encoding)
        return f"?{{{tag.type}:{tag.path}:{ref.hash[:8]}}}"

    @staticmethod
    def _plain_value(tag: Tag, data: str, encoding: str) -> str:
        subvar = tag.subvar
        if not subvar:
            return data
        text = base64.b64decode(data).decode() if encoding == "base64" else data
        value: Any = yaml.safe_load(text)
        if not isinstance(value, dict):
            raise RefError(f"ref {tag.text}: content is not YAML mapping, no sub-variable {subvar}")
        for key in subvar.split("."):
            if not isinstance(value, dict) or key not in value:
                raise RefError(f"ref {tag.text}: no sub-variable key {subvar}")
            value = value[key]
        if encoding == "base64":
            return base64.b64encode(str(value).encode()).decode()
        return str(value)

    def compile_text(self, text: str, deps: Any = None) -> str:
        """Replace every tag in ``text``; raises on the first bad one."""
        if "?{" not in text:
            return text
        return TAG_RE.sub(lambda m: self.compile_tag(parse(m), deps), text)

    def compile_obj(self, obj: Any, deps: Any = None) -> Any:
        """Replace tags in every string of a nested object (a new object)."""
        if isinstance(obj, dict):
            return {k: self.compile_obj(v, deps) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.compile_obj(v, deps) for v in obj]
        if isinstance(obj, str):
            return self.compile_text(obj, deps)
        return obj


__all__ = ["RefError", "TagCompiler"]
