"""Ref functions: ``?{type:path||fn:arg|fn2}`` creates the ref when it does not exist.

Kapitan's semantics (``kapitan/refs/functions.py``): the chain runs left to
right on one value; ``base64`` is not a function but asks for the value to be
stored base64-encoded (``encoding: base64``).

| function | value |
|---|---|
| ``random[:type[:n[:specials]]]`` | ``str`` (letters, digits, ``-_``; 43), ``int`` (16), ``loweralpha``, ``upperalpha``, ``loweralphanum``, ``upperalphanum``, ``special`` (8, punctuation or the given characters) |
| ``randomstr[:n]``, ``loweralphanum[:n]`` | deprecated aliases of ``random:str`` and ``random:loweralphanum`` |
| ``sha256[:salt]`` | hex sha256 of ``salt:value`` |
| ``rsa[:bits]``, ``ed25519`` | a PKCS8 PEM private key (rsa: 4096 bits) |
| ``publickey`` (``rsapublic``) | the PEM public key of the private key in the value |
| ``reveal:path`` | the value of another ref of the same type |
| ``basicauth[:user[:pass]]`` | base64 of ``user:pass`` (random 8 characters when left out) |
"""

from __future__ import annotations

import base64
import hashlib
import string
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from .store import RefError


@dataclass
class FunctionContext:
    """The value a chain works on, and how to store it."""

    reveal_ref: Callable[[str], tuple[str, str]]  # path -> (value, encoding) of a same-type ref
    data: str = ""
    encoding: str = "original"  # of a revealed ref: publickey decodes base64 keys
    encode_base64: bool = False


_POOLS = {
    "str": string.ascii_letters + string.digits + "-_",
    "int": string.digits,
    "loweralpha": string.ascii_lowercase,
    "upperalpha": string.ascii_uppercase,
    "loweralphanum": string.ascii_lowercase + string.digits,
    "upperalphanum": string.ascii_uppercase + string.digits,
    "special": string.ascii_letters + string.digits + string.punctuation,
}
_DEFAULT_LENGTH = {"str": 43, "int": 16}


def _count(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise RefError(f"{what}: {text!r} is not a number") from None
    if value < 1:
        raise RefError(f"{what}: {value} must be at least 1")
    return value


def fn_random(ctx: FunctionContext, kind: str = "str", nchars: str = "",
              special_chars: str | None = None) -> None:
    """A random string of ``kind`` characters."""
    if kind not in _POOLS:
        raise RefError(f"random: unknown type {kind!r} (one of {', '.join(_POOLS)})")
    if special_chars is not None and kind != "special":
        raise RefError(f"random: {kind} takes no special characters; use "
                       f"random:special:{nchars or 8}:{special_chars}")
    pool = _POOLS[kind]
    if kind == "special" and special_chars is not None:
        pool = string.ascii_letters + string.digits + special_chars
    # As Kapitan: only printable ASCII, no duplicates.
    allowed = set(string.ascii_letters + string.digits + string.punctuation)
    choices = "".join(sorted(set(pool) & allowed))
    length = _count(nchars, "random") if nchars else _DEFAULT_LENGTH.get(kind, 8)
    import secrets  # here: a compile that makes no secret need not import it

    ctx.data = "".join(secrets.choice(choices) for _ in range(length))


def fn_randomstr(ctx: FunctionContext, nchars: str = "") -> None:
    """Deprecated: ``random:str``."""
    fn_random(ctx, "str", nchars)


def fn_loweralphanum(ctx: FunctionContext, nchars: str = "8") -> None:
    """Deprecated: ``random:loweralphanum``."""
    fn_random(ctx, "loweralphanum", nchars)


def fn_sha256(ctx: FunctionContext, salt: str = "") -> None:
    """Hex sha256 of ``salt:value``."""
    if not ctx.data:
        raise RefError("sha256: nothing to hash; try something like '||random:str|sha256'")
    ctx.data = hashlib.sha256(f"{salt}:{ctx.data}".encode()).hexdigest()


def _crypto(fn: str) -> tuple[ModuleType, ModuleType, ModuleType]:
    """cryptography's serialization, rsa and ed25519 modules: an extra, loaded only for keys."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    except ImportError:
        raise RefError(f"{fn}: needs the cryptography package: "
                       "pip install 'kapitan-lite[keys]'") from None
    return serialization, rsa, ed25519


def _pem(key: Any) -> str:
    serialization = _crypto("keys")[0]
    return key.private_bytes(encoding=serialization.Encoding.PEM,
                             format=serialization.PrivateFormat.PKCS8,
                             encryption_algorithm=serialization.NoEncryption()).decode()


def fn_rsa(ctx: FunctionContext, key_size: str = "4096") -> None:
    """A new RSA private key, PKCS8 PEM."""
    bits = _count(key_size, "rsa")
    if bits < 1024:
        raise RefError(f"rsa: {bits} bits is too small (1024 at least)")
    rsa = _crypto("rsa")[1]
    ctx.data = _pem(rsa.generate_private_key(public_exponent=65537, key_size=bits))


def fn_ed25519(ctx: FunctionContext) -> None:
    """A new Ed25519 private key, PKCS8 PEM."""
    ctx.data = _pem(_crypto("ed25519")[2].Ed25519PrivateKey.generate())


def fn_publickey(ctx: FunctionContext) -> None:
    """The public key (SubjectPublicKeyInfo PEM) of the private key in the value."""
    if not ctx.data:
        raise RefError("publickey: no private key; try something like "
                       "'||reveal:path/to/private_key|publickey'")
    serialization = _crypto("publickey")[0]
    pem = ctx.data
    if ctx.encoding == "base64":
        pem = base64.b64decode(pem).decode()
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise RefError(f"publickey: the value is not an unencrypted PEM private key ({exc})") from None
    ctx.data = key.public_key().public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def fn_reveal(ctx: FunctionContext, path: str = "") -> None:
    """The value of another ref of the same type."""
    if not path:
        raise RefError("reveal: needs a path, e.g. '||reveal:path/to/ref'")
    ctx.data, ctx.encoding = ctx.reveal_ref(path)


def fn_basicauth(ctx: FunctionContext, username: str = "", password: str = "") -> None:
    """Base64 of ``user:pass``; random ones when left out."""
    import secrets

    if not username:
        username = "".join(secrets.choice(string.ascii_lowercase) for _ in range(8))
    if not password:
        password = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(8))
    ctx.data = base64.b64encode(f"{username}:{password}".encode()).decode()


FUNCTIONS: dict[str, Callable[..., None]] = {
    "random": fn_random,
    "randomstr": fn_randomstr,
    "loweralphanum": fn_loweralphanum,
    "sha256": fn_sha256,
    "rsa": fn_rsa,
    "ed25519": fn_ed25519,
    "publickey": fn_publickey,
    "rsapublic": fn_publickey,
    "reveal": fn_reveal,
    "basicauth": fn_basicauth,
}
_MAX_ARGS = {"random": 3, "randomstr": 1, "loweralphanum": 1, "sha256": 1, "rsa": 1,
             "ed25519": 0, "publickey": 0, "rsapublic": 0, "reveal": 1, "basicauth": 2}


def parse_chain(functions: str) -> list[tuple[str, list[str]]]:
    """``||fn:a:b|fn2`` as ``[(fn, [a, b]), (fn2, [])]``, checked."""
    if not functions.startswith("||"):
        raise RefError(f"{functions}: ref functions start with '||'")
    chain = []
    for item in functions[2:].split("|"):
        name, *args = item.strip().split(":")
        if name != "base64" and name not in FUNCTIONS:
            raise RefError(f"{name}: unknown ref function (known: base64, "
                           f"{', '.join(sorted(FUNCTIONS))})")
        if len(args) > _MAX_ARGS.get(name, 0):
            raise RefError(f"{name}: too many arguments ({':'.join(args)})")
        chain.append((name, args))
    return chain


def run_chain(functions: str, ctx: FunctionContext) -> FunctionContext:
    """Run a function chain; ``ctx.data`` is then the value to store."""
    for name, args in parse_chain(functions):
        if name == "base64":
            ctx.encode_base64 = True
        else:
            FUNCTIONS[name](ctx, *args)
    return ctx
