"""The refs store: Kapitan's on-disk ref files, read as data only."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import yaml

try:  # libyaml when present: same result, faster
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


class RefError(Exception):
    """A ref could not be used; the message names the ref, ``tag`` holds the tag text."""

    def __init__(self, message: str, tag: str = ""):
        super().__init__(message)
        self.tag = tag


@dataclass(frozen=True)
class RefFile:
    """One ref file as stored: ``data``, ``encoding``, ``type`` and the rest."""

    path: str  # relative to the refs dir, no subvar
    type: str
    data: str
    encoding: str
    extra: dict

    @property
    def hash(self) -> str:
        """Kapitan's ref hash: sha256 of the path followed by the stored data field."""
        return hashlib.sha256(f"{self.path}{self.data}".encode()).hexdigest()


class RefStore:
    """Reads ref files under one refs directory, each at most once per run."""

    def __init__(self, refs_dir: str):
        self.refs_dir = refs_dir
        self._cache: dict[str, RefFile | None] = {}

    def full_path(self, ref_path: str) -> str:
        """The file of ``ref_path``; refuses paths that leave the refs dir."""
        norm = os.path.normpath(ref_path)
        if os.path.isabs(ref_path) or norm == ".." or norm.startswith("../") or norm == ".":
            raise RefError(f"ref path {ref_path!r} leaves the refs directory")
        return os.path.join(self.refs_dir, norm)

    def get(self, ref_path: str) -> RefFile | None:
        """The ref file at ``ref_path``, or ``None`` when it does not exist."""
        if ref_path in self._cache:
            return self._cache[ref_path]
        full = self.full_path(ref_path)
        ref: RefFile | None = None
        try:
            with open(full, encoding="utf-8") as fp:
                obj = yaml.load(fp, Loader=_Loader)
        except FileNotFoundError:
            obj = None
        except IsADirectoryError:
            raise RefError(f"ref {ref_path} is a directory, not a ref file") from None
        except yaml.YAMLError as exc:
            raise RefError(f"ref file {full} is not valid YAML: {exc}") from None
        if obj is not None:
            if not isinstance(obj, dict) or "data" not in obj or "type" not in obj:
                raise RefError(f"ref file {full} is not a Kapitan ref (needs 'data' and 'type')")
            extra = {k: v for k, v in obj.items() if k not in ("data", "type", "encoding")}
            ref = RefFile(
                path=ref_path,
                type=str(obj["type"]),
                data=str(obj["data"]),
                encoding=str(obj.get("encoding", "original")),
                extra=extra,
            )
        self._cache[ref_path] = ref
        return ref
