"""The refs store: Kapitan's on-disk ref files, read and written as data only.

A ref file is YAML as Kapitan writes it, ``yaml.safe_dump(fields,
default_flow_style=False)``: sorted keys ``data``, ``encoding``, the type's
own keys (``recipients``, ``key``, ``vault_params``), ``type``. It is parsed
with the safe loader and checked for shape; nothing in it is ever evaluated.
Ref paths are relative to the refs directory and can't leave it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..errors import display_path
from ..yamlload import YamlLoadError, load_yaml


class RefError(Exception):
    """A ref could not be used; the message names the ref, ``tag`` holds the tag text."""

    def __init__(self, message: str, tag: str = ""):
        super().__init__(message)
        self.tag = tag
        self.location: tuple[str, int] | None = None  # file and line of the tag, once known


@dataclass(frozen=True)
class RefFile:
    """One ref as stored: ``data``, ``encoding``, ``type`` and the type's own fields."""

    path: str  # relative to the refs dir, no subvar
    type: str
    data: str
    encoding: str = "original"
    extra: dict[str, Any] = field(default_factory=dict)
    typed: bool = True  # False when the file has no 'type' (Kapitan then goes by the tag)

    @property
    def hash(self) -> str:
        """Kapitan's ref hash: sha256 of the path followed by the stored data field."""
        return hashlib.sha256(f"{self.path}{self.data}".encode()).hexdigest()

    @property
    def fields(self) -> dict[str, Any]:
        """Everything the file holds, as Kapitan dumps it."""
        return {"data": self.data, "encoding": self.encoding, **self.extra, "type": self.type}


def ref_from_fields(path: str, obj: Any, where: str) -> RefFile:
    """Check the shape of a loaded ref file (or embedded ref) and build a :class:`RefFile`."""
    if not isinstance(obj, dict) or "data" not in obj:
        raise RefError(f"{where} is not a Kapitan ref file (it needs 'data' and 'type')")
    data = obj["data"]
    if isinstance(data, dict | list) or data is None:
        raise RefError(f"{where}: 'data' must be a string")
    # Kapitan reads a file without 'type' as gpg (refs from before types existed).
    type_name = obj.get("type", "gpg")
    encoding = obj.get("encoding", "original")
    if not isinstance(type_name, str) or not isinstance(encoding, str):
        raise RefError(f"{where}: 'type' and 'encoding' must be strings")
    if encoding not in ("original", "base64"):
        raise RefError(f"{where}: unknown encoding {encoding!r} (original or base64)")
    extra = {k: v for k, v in obj.items() if k not in ("data", "type", "encoding")}
    return RefFile(path=path, type=type_name, data=str(data), encoding=encoding, extra=extra,
                   typed="type" in obj)


def dump_ref(fields: dict[str, Any]) -> str:
    """The bytes Kapitan writes for a ref file."""
    return yaml.safe_dump(fields, default_flow_style=False)


def load_ref_file(full_path: str, ref_path: str) -> RefFile | None:
    """Read one ref file; ``None`` when it does not exist."""
    try:
        with open(full_path, "rb") as fp:
            obj = load_yaml(fp.read())
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise RefError(f"ref {ref_path} is a directory, not a ref file") from None
    except YamlLoadError as exc:
        raise RefError(f"ref file {display_path(full_path)}:{exc.line} is not valid YAML: "
                       f"{exc.detail}") from None
    except UnicodeDecodeError as exc:
        raise RefError(f"ref file {display_path(full_path)} is not UTF-8: {exc}") from None
    return ref_from_fields(ref_path, obj, f"ref file {full_path}")


class RefStore:
    """Reads and writes ref files under one refs directory; reads each at most once."""

    def __init__(self, refs_dir: str):
        self.refs_dir = refs_dir
        self._cache: dict[str, RefFile | None] = {}

    def full_path(self, ref_path: str) -> str:
        """The file of ``ref_path``; refuses paths that leave the refs dir."""
        norm = os.path.normpath(ref_path)
        if (os.path.isabs(ref_path) or norm in (".", "..") or norm.startswith("../")
                or not ref_path):
            raise RefError(f"ref path {ref_path!r} leaves the refs directory")
        full = os.path.join(self.refs_dir, norm)
        # A symlink inside refs/ must not lead outside it either.
        real_root = os.path.realpath(self.refs_dir)
        real = os.path.realpath(full)
        if real != real_root and not real.startswith(real_root + os.sep):
            raise RefError(f"ref path {ref_path!r} leaves the refs directory (through a link)")
        return full

    def layout_hint(self) -> str:
        """A hint for projects laid out for old Kapitans: refs in ``secrets/``, not ``refs/``."""
        old = os.path.join(os.path.dirname(os.path.abspath(self.refs_dir)), "secrets")
        if os.path.isdir(self.refs_dir) or not os.path.isdir(old):
            return ""
        return (f" ({display_path(old)} exists: Kapitan 0.36.3 reads refs from --refs-path, "
                "./refs by default; set refs-path: ./secrets under compile: and refs: in .kapitan)")

    def get(self, ref_path: str) -> RefFile | None:
        """The ref file at ``ref_path``, or ``None`` when it does not exist."""
        if ref_path in self._cache:
            return self._cache[ref_path]
        ref = load_ref_file(self.full_path(ref_path), ref_path)
        self._cache[ref_path] = ref
        return ref

    def write(self, ref_path: str, fields: dict[str, Any], *, exclusive: bool = False) -> RefFile:
        """Write a ref file atomically; with ``exclusive``, keep one that already exists.

        Returns the ref now on disk: with ``exclusive`` and a file that another
        process wrote first, that one (so concurrent creators agree).
        """
        full = self.full_path(ref_path)
        os.makedirs(os.path.dirname(full) or ".", exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".kcompile-ref-", dir=os.path.dirname(full) or ".")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fp:
                fp.write(dump_ref(fields))
            os.chmod(tmp, 0o666 & ~_umask())  # as open(path, "w") would
            if exclusive:
                try:
                    os.link(tmp, full)  # fails if the file exists: first writer wins
                except FileExistsError:
                    self._cache.pop(ref_path, None)
                    existing = self.get(ref_path)
                    assert existing is not None
                    return existing
            else:
                os.replace(tmp, full)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self._cache.pop(ref_path, None)
        ref = self.get(ref_path)
        assert ref is not None
        return ref

    def paths(self) -> Iterator[str]:
        """Every ref path in the store, sorted (dotfiles skipped)."""
        out = []
        for root, dirs, files in os.walk(self.refs_dir):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for f in files:
                if not f.startswith("."):
                    out.append(os.path.relpath(os.path.join(root, f), self.refs_dir))
        yield from sorted(p.replace(os.sep, "/") for p in out)


def target_of(path: str, targets: set[str]) -> str | None:
    """The target a ref belongs to by its path: ``<t>/...`` or ``targets/<t>/...``."""
    parts = path.split("/")
    if parts[0] in targets:
        return parts[0]
    if len(parts) > 2 and parts[0] == "targets" and parts[1] in targets:
        return parts[1]
    return None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
