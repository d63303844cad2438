"""The ref types: one module each, loaded on first use, one instance per run.

Compiling tags needs no type module at all (the tag is computed from the
file). A type's module, and its SDK, is imported only to encrypt (write,
rotate, ref functions) or to decrypt (reveal). A missing SDK is a user error
naming the extra to install.
"""

from __future__ import annotations

import base64
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .store import RefError, RefFile

# type name -> (module, class, pip extra that brings its SDK or None)
TYPES: dict[str, tuple[str, str, str | None]] = {
    "plain": ("plain", "PlainType", None),
    "base64": ("base64", "Base64Type", None),
    "env": ("env", "EnvType", None),
    "gpg": ("gpg", "GpgType", "gpg"),
    "age": ("age", "AgeType", "age"),
    "awskms": ("awskms", "AwsKmsType", "awskms"),
    "gkms": ("gkms", "GoogleKmsType", "gkms"),
    "azkms": ("azkms", "AzureKmsType", "azkms"),
    "vaultkv": ("vaultkv", "VaultKVType", "vault"),
    "vaulttransit": ("vaulttransit", "VaultTransitType", "vault"),
}

# Refs whose value goes into compiled output as it is (Kapitan substitutes
# ``plain`` refs even without --reveal); every other type becomes a hash tag.
SUBSTITUTED = frozenset({"plain"})


@dataclass(frozen=True)
class RefParams:
    """What encrypting a ref may need besides its data.

    Explicit values (``--recipient``, ``--key``) win over the target's
    ``parameters.kapitan.secrets``.
    """

    recipients: tuple[str, ...] = ()
    key: str | None = None
    secrets: Mapping[str, Any] | None = None  # a target's parameters.kapitan.secrets
    target: str = ""
    vault: Mapping[str, str] = field(default_factory=dict)  # auth, mount, path, key

    def section(self, type_name: str) -> Mapping[str, Any]:
        """The target's ``parameters.kapitan.secrets.<type>`` (empty when unset)."""
        value = (self.secrets or {}).get(type_name) if isinstance(self.secrets, Mapping) else None
        return value if isinstance(value, Mapping) else {}

    def missing(self, what: str, flag: str, setting: str) -> RefError:
        """The error for a value given neither on the command line nor in the inventory."""
        where = f" of target {self.target}" if self.target else " (use -t TARGET)"
        return RefError(f"no {what}: give {flag} or set parameters.kapitan.secrets.{setting} "
                        f"in the inventory{where}")

    def require_key(self, type_name: str) -> str:
        """``--key``, else ``parameters.kapitan.secrets.<type>.key``."""
        key = self.key or self.section(type_name).get("key")
        if not key:
            raise self.missing(f"{type_name} key", "--key", f"{type_name}.key")
        return str(key)


class RefType(Protocol):
    """What each ref type module implements."""

    name: str

    def encrypt(self, payload: bytes, encoding: str, params: RefParams) -> dict[str, Any]:
        """The ref file's fields for ``payload`` (already base64-encoded when ``encoding`` says so)."""
        ...

    def reveal(self, ref: RefFile) -> str:
        """The stored value: what ``kapitan refs --reveal`` prints."""
        ...

    def rotate(self, ref: RefFile, params: RefParams) -> dict[str, Any] | None:
        """New fields re-encrypted for ``params``, or ``None`` when already current."""
        ...


def b64(data: bytes) -> str:
    """Base64 text of ``data``."""
    return base64.b64encode(data).decode()


def unb64(text: str, what: str) -> bytes:
    """Bytes of base64 ``text``; a :class:`RefError` naming ``what`` when it is not base64."""
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise RefError(f"{what}: data is not valid base64 (tampered or truncated?)") from None


def utf8(data: bytes, what: str) -> str:
    """``data`` as text; binary secrets must be written with ``--base64``."""
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise RefError(f"{what}: value is not UTF-8 text (write binary data with --base64)") from None


def not_encrypted(ref: RefFile) -> RefError:
    """The error for rotating a type that is not encrypted."""
    return RefError(f"ref {ref.type}:{ref.path} is not encrypted ({ref.type}): nothing to rotate")


class Backends:
    """The ref type instances of one run, created on first use.

    ``identities`` are age identity files (``--identity``); SDK clients live
    in the instances, so each is built once per run and process.
    """

    def __init__(self, identities: tuple[str, ...] = ()):
        self.identities = identities
        self._types: dict[str, RefType] = {}

    def get(self, type_name: str) -> RefType:
        """The instance for ``type_name``; a :class:`RefError` if unknown or its SDK is missing."""
        impl = self._types.get(type_name)
        if impl is not None:
            return impl
        if type_name not in TYPES:
            raise RefError(f"unknown ref type {type_name!r} (known: {', '.join(sorted(TYPES))})")
        module_name, class_name, extra = TYPES[type_name]
        try:
            module = importlib.import_module(f"{__package__}.{module_name}")
        except ImportError as exc:
            hint = f"pip install 'kapitan-lite[{extra}]'" if extra else "reinstall kapitan-lite"
            raise RefError(f"{type_name} refs need {exc.name or 'an SDK'} ({hint})") from None
        impl = getattr(module, class_name)(self)
        self._types[type_name] = impl
        return impl


class KeyedType:
    """Shared by the KMS types: one key per ref, kept in the file's ``key`` field,
    and one SDK client per run and process, made on first use."""

    name: str

    def __init__(self, backends: Backends):
        self.backends = backends
        self._client: Any = None

    def _new_client(self) -> Any:
        raise NotImplementedError

    @property
    def client(self) -> Any:
        """The SDK client, made on first use."""
        if self._client is None:
            self._client = self._new_client()
        return self._client

    def _encrypt(self, payload: bytes, encoding: str, key: str) -> dict[str, Any]:
        raise NotImplementedError

    def reveal(self, ref: RefFile) -> str:
        raise NotImplementedError

    def encrypt(self, payload: bytes, encoding: str, params: RefParams) -> dict[str, Any]:
        """Encrypt with ``--key`` or the target's ``secrets.<type>.key``."""
        return self._encrypt(payload, encoding, params.require_key(self.name))

    def rotate(self, ref: RefFile, params: RefParams) -> dict[str, Any] | None:
        """Re-encrypt with a new key; ``None`` when it is already the ref's."""
        key = params.require_key(self.name)
        if key == ref.extra.get("key"):
            return None
        return self._encrypt(self.reveal(ref).encode(), ref.encoding, key)
