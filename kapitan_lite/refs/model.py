"""A ref file as Kapitan 0.36.3 reads it: its ref classes' load, then their ``dump()``.

Kapitan builds a ref object from each file it reads (every compile, even
for a plain ``?{type:path}`` tag) and writes that object's ``dump()`` into
embedded tags (``--embed-refs``) and into the files ``refs rotate`` rewrites.
So a file an older Kapitan wrote comes out normalised:

- ``vault_params`` goes through Kapitan's pydantic settings model: old keys
  (``VAULT_ADDR``, ``VAULT_CAPATH``...) become ``addr``, ``capath``...;
  every default is filled in; a missing field is read from the environment
  (case-insensitively, under the field's name *or* its ``VAULT_*`` alias:
  ``ADDR``, ``MOUNT`` and ``KEY`` count too, as in pydantic-settings); an
  unknown key, a non-string or a bad boolean is refused;
- gpg ``recipients`` become ``[{fingerprint: ...}]``, sorted and unique,
  a name-only recipient looked up in the keyring;
- the KMS types need ``key`` (every Kapitan wrote it, but a file made by
  hand or another tool may lack it: Kapitan 0.36.3 cannot read it, so
  neither do we; ``refs migrate --key`` adds it);
- keys Kapitan does not know are dropped, ``encoding`` defaults to ``original``.

The dump keeps Kapitan's key order (``data, encoding, type, vault_params``
for vault refs), which the JSON of an embedded tag shows.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from .store import RefError, RefFile

# Kapitan's KapitanReferenceVaultCommon fields, in declaration (= dump) order:
# name -> (names accepted for it, first wins; kind; default).
_VAULT_FIELDS: dict[str, tuple[tuple[str, ...], str, Any]] = {
    "addr": (("addr", "VAULT_ADDR"), "str", None),
    "skip_verify": (("skip_verify", "VAULT_SKIP_VERIFY"), "bool", True),
    "client_key": (("client_key", "VAULT_CLIENT_KEY"), "str", None),
    "client_cert": (("client_cert", "VAULT_CLIENT_CERT"), "str", None),
    "cacert": (("cacert", "VAULT_CACERT"), "str", None),
    "capath": (("capath", "VAULT_CAPATH"), "str", None),
    "namespace": (("namespace", "VAULT_NAMESPACE"), "str", None),
    "engine": (("engine",), "engine", None),
    "auth": (("auth",), "str", None),
    "crypto_key": (("crypto_key",), "str", None),
    "always_latest": (("always_latest",), "bool", False),
    "mount": (("mount",), "str", None),
    "key": (("key",), "str", None),
}
# Per ref type: the engines its model allows, and its own defaults.
_VAULT_KINDS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "vaultkv": (("kv", "kv-v2"), {"engine": "kv-v2", "mount": "secret"}),
    "vaulttransit": (("transit",), {"engine": "transit", "mount": "transit"}),
}
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
KMS_TYPES = frozenset({"awskms", "gkms", "azkms"})
VAULT_TYPES = frozenset(_VAULT_KINDS)


def _bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError("is not a boolean (true/false, yes/no, 1/0, on/off)")


def vault_model(type_name: str, values: Mapping[str, Any],
                env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Kapitan's vault settings model for ``vaultkv``/``vaulttransit``, dumped.

    ``values`` are a ref file's ``vault_params`` or a target's
    ``parameters.kapitan.secrets.<type>``; ``env`` defaults to ``os.environ``.
    Raises :class:`ValueError` listing every bad key, one per line.
    """
    engines, defaults = _VAULT_KINDS[type_name]
    given = {str(k).lower(): v for k, v in values.items()}
    lowered_env = {k.lower(): v for k, v in (os.environ if env is None else env).items()}
    known = {alias.lower() for aliases, _, _ in _VAULT_FIELDS.values() for alias in aliases}
    problems = [f"{k}: unknown setting (Kapitan 0.36.3 refuses it)"
                for k in values if str(k).lower() not in known]
    out: dict[str, Any] = {}
    for name, (aliases, kind, default) in _VAULT_FIELDS.items():
        value, found = defaults.get(name, default), False
        for source in (given, lowered_env):
            for alias in aliases:
                if alias.lower() in source:
                    value, found = source[alias.lower()], True
                    break
            if found:
                break
        try:
            if kind == "bool":
                value = _bool(value)
            elif kind == "engine":
                if value not in engines:
                    raise ValueError(f"must be {' or '.join(engines)}")
            elif value is not None and not isinstance(value, str):
                raise ValueError("must be a string")
        except ValueError as exc:
            problems.append(f"{name}: {value!r} {exc}")
        out[name] = value
    if problems:
        raise ValueError("\n".join(problems))
    return out


def kapitan_dump(ref: RefFile, type_name: str | None = None,
                 lookup: Callable[[str], str] | None = None,
                 env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What Kapitan 0.36.3's ``dump()`` gives for ``ref`` read as ``type_name``.

    ``lookup`` finds a gpg recipient's fingerprint by name (only asked for
    recipients without one). Raises :class:`RefError` where Kapitan cannot
    read the file.
    """
    type_name = type_name or ref.type
    what = f"ref {type_name}:{ref.path}"
    head: dict[str, Any] = {"data": ref.data, "encoding": ref.encoding}
    if type_name == "gpg":
        return {**head, "recipients": gpg_recipients(ref, lookup), "type": type_name}
    if type_name in KMS_TYPES:
        key = ref.extra.get("key")
        if key is None:
            raise RefError(f"{what}: the ref file has no 'key', so Kapitan 0.36.3 cannot read "
                           "it: run 'kcompile refs migrate --key KEY' to add it")
        return {**head, "key": key, "type": type_name}
    if type_name in VAULT_TYPES:
        params = ref.extra.get("vault_params")
        if not isinstance(params, Mapping):
            raise RefError(f"{what}: the ref file has no 'vault_params' mapping")
        try:
            model = vault_model(type_name, params, env)
        except ValueError as exc:
            raise RefError("\n".join(f"{what}: vault_params.{line}"
                                     for line in str(exc).splitlines())) from None
        return {**head, "type": type_name, "vault_params": model}
    if type_name == "age":  # ours, not Kapitan's: as stored
        return {**head, **ref.extra, "type": type_name}
    return {**head, "type": type_name}


def gpg_recipients(ref: RefFile, lookup: Callable[[str], str] | None) -> list[dict[str, str]]:
    """Kapitan's ``lookup_fingerprints``: fingerprints as written, names looked up; sorted, unique."""
    what = f"ref gpg:{ref.path}"
    recipients = ref.extra.get("recipients")
    if not isinstance(recipients, list):
        raise RefError(f"{what}: the ref file has no 'recipients' list")
    found = set()
    for rec in recipients:
        if not isinstance(rec, Mapping):
            raise RefError(f"{what}: each recipient must be a mapping with a 'fingerprint'")
        fpr = rec.get("fingerprint")
        if fpr is None:
            name = rec.get("name")
            if lookup is None or name is None:
                raise RefError(f"{what}: recipient {dict(rec)} has no fingerprint")
            fpr = lookup(str(name))
        found.add(fpr)
    return [{"fingerprint": f} for f in sorted(found)]


def needs_lookup(ref: RefFile) -> bool:
    """Whether reading this gpg ref asks the keyring (a recipient without a fingerprint)."""
    recipients = ref.extra.get("recipients")
    return isinstance(recipients, list) and any(
        isinstance(r, Mapping) and r.get("fingerprint") is None for r in recipients)
