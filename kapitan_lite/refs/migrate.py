"""``refs migrate``: rewrite ref files from older Kapitans in the format 0.36.3 writes.

Each file becomes what Kapitan 0.36.3 would write after loading it
(:func:`.model.kapitan_dump`, dumped as Kapitan dumps it), so a later
``refs rotate`` by Kapitan changes nothing but the secret: ``data`` is never
touched, so tags and their hashes stay the same. The environment is not
read (a migrated file must not depend on who ran the migration): vault
settings missing from a file get the model's defaults. Plain and env refs
are left as they are (Kapitan never rewrites them), and so are our own age
refs. A KMS ref without ``key`` (made by hand or another tool) can only be
migrated with ``key``, which must be the key that encrypted it. A gpg file
without ``type`` (Kapitan < 0.20 wrote none) gets ``type: gpg``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass

from .model import KMS_TYPES, kapitan_dump, needs_lookup
from .store import RefError, RefStore, dump_ref

_KEPT = frozenset({"plain", "env", "age"})


@dataclass(frozen=True)
class Migration:
    """One ref file that does not read as Kapitan 0.36.3 writes it."""

    path: str  # relative to the refs dir
    new_text: str


def plan(store: RefStore, key: str | None = None,
         lookup: Callable[[str], str] | None = None) -> tuple[list[Migration], list[RefError]]:
    """The files to rewrite, and the problems (files that can't be migrated), in path order."""
    todo: list[Migration] = []
    problems: list[RefError] = []
    for path in store.paths():
        try:
            ref = store.get(path)
        except RefError:
            continue  # not a ref file: Kapitan does not read it either
        if ref is None or ref.type in _KEPT:
            continue
        try:
            if key and ref.type in KMS_TYPES and ref.extra.get("key") is None:
                ref = dataclasses.replace(ref, extra={**ref.extra, "key": key})
            found = lookup if needs_lookup(ref) else None
            new_text = dump_ref(kapitan_dump(ref, ref.type, found, env={}))
            with open(store.full_path(path), encoding="utf-8") as fp:
                if fp.read() != new_text:
                    todo.append(Migration(path, new_text))
        except RefError as exc:
            exc.location = (os.path.join(store.refs_dir, path), 0)
            problems.append(exc)
    return todo, problems


def apply(store: RefStore, todo: list[Migration]) -> None:
    """Write the migrated files (each atomically, keeping its mode)."""
    for item in todo:
        full = store.full_path(item.path)
        tmp = f"{full}.kcompile-migrate"
        with open(tmp, "w", encoding="utf-8") as fp:
            fp.write(item.new_text)
        os.chmod(tmp, os.stat(full).st_mode & 0o7777)
        os.replace(tmp, full)
