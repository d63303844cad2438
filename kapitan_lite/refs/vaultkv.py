"""``vaultkv`` refs: the secret lives in a HashiCorp Vault KV engine (hvac).

File: ``data`` is base64 of ``<path in vault>:<key>``; ``vault_params`` holds
Kapitan's connection settings (``addr``, ``auth``, ``engine: kv|kv-v2``,
``mount``, TLS options...), read through Kapitan's model (:mod:`.model`:
old ``VAULT_*`` keys renamed, defaults and environment filled in). Authentication: ``VAULT_TOKEN`` (or ``~/.vault-token``),
``VAULT_USERNAME``/``VAULT_PASSWORD`` (userpass, ldap), ``VAULT_ROLE_ID``/
``VAULT_SECRET_ID`` (approle).

A 5-part tag ``?{vaultkv:ref:mount:path_in_vault:key}`` must agree with its
ref file: a ref file that points elsewhere is refused (Kapitan #1586).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .backends import Backends, RefParams, b64, not_encrypted, unb64, utf8
from .model import kapitan_dump, vault_model
from .store import RefError, RefFile
from .tags import Tag


def vault_params(type_name: str, section: Mapping[str, Any],
                 auth: str | None = None) -> dict[str, Any]:
    """Kapitan's ``vault_params`` for a new ref: the target's settings through its model."""
    try:
        params = vault_model(type_name, section)
    except ValueError as exc:
        raise RefError("\n".join(f"vault: parameters.kapitan.secrets.{type_name}.{line}"
                                  for line in str(exc).splitlines())) from None
    if auth:
        params["auth"] = auth
    if not params["auth"]:
        raise RefError("vault: no auth method: give --vault-auth or set "
                       "parameters.kapitan.secrets.<vaultkv|vaulttransit>.auth (use -t TARGET)")
    return params


def ref_vault_params(ref: RefFile) -> dict[str, Any]:
    """The ref file's ``vault_params`` as Kapitan reads them (old keys renamed, defaults filled)."""
    params: dict[str, Any] = kapitan_dump(ref)["vault_params"]
    return params


def vault_client(params: Mapping[str, Any], what: str) -> Any:
    """An authenticated hvac client for ``vault_params`` (Kapitan's rules)."""
    try:
        import hvac
    except ImportError:
        raise RefError("vault refs need hvac (pip install 'kapitan-lite[vault]')") from None
    verify: Any = False
    if not params.get("skip_verify"):
        verify = params.get("cacert") or params.get("capath")
        if not verify:
            raise RefError(f"{what}: neither VAULT_CACERT nor VAULT_CAPATH is set "
                           "(or set skip_verify)")
    cert = None
    if params.get("client_cert") and params.get("client_key"):
        cert = (params["client_cert"], params["client_key"])
    client = hvac.Client(url=params.get("addr"), namespace=params.get("namespace"),
                         verify=verify, cert=cert)
    auth = params.get("auth")
    env = os.environ
    try:
        if auth in ("token", "github"):
            token = env.get("VAULT_TOKEN") or _token_file()
            if auth == "token":
                client.token = token
            else:
                client.auth.github.login(token=token)
        elif auth in ("userpass", "ldap"):
            method = client.auth.userpass if auth == "userpass" else client.auth.ldap
            method.login(username=env.get("VAULT_USERNAME"), password=env.get("VAULT_PASSWORD"))
        elif auth == "approle":
            client.auth.approle.login(env.get("VAULT_ROLE_ID"), secret_id=env.get("VAULT_SECRET_ID"))
        else:
            raise RefError(f"{what}: vault auth {auth!r} is not supported "
                           "(token, github, userpass, ldap, approle)")
        if not client.is_authenticated():
            raise RefError(f"{what}: vault authentication failed (check VAULT_TOKEN)")
    except hvac.exceptions.VaultError as exc:
        raise RefError(f"{what}: vault: {type(exc).__name__}: {exc}") from None
    except OSError as exc:  # connection refused, DNS...
        raise RefError(f"{what}: cannot reach vault at {params.get('addr')}: {exc}") from None
    return client


def _token_file() -> str:
    path = os.path.join(os.path.expanduser("~"), ".vault-token")
    if os.path.islink(path):
        raise RefError(f"vault token file {path} is a symbolic link and will not be read")
    try:
        with open(path, encoding="utf-8") as fp:
            token = fp.read().strip()
    except OSError:
        raise RefError("vault: no VAULT_TOKEN and no ~/.vault-token") from None
    if not token:
        raise RefError(f"vault token file {path} is empty")
    return token


def location(ref: RefFile) -> tuple[str, str, str]:
    """Where the secret is: (mount, path in vault, key), from the ref file."""
    what = f"ref vaultkv:{ref.path}"
    text = utf8(unb64(ref.data, what), what)
    parts = text.split(":")
    if len(parts) != 2:
        raise RefError(f"{what}: data must be 'path/in/vault:key', not {text!r}")
    return str(ref_vault_params(ref)["mount"] or "secret"), parts[0], parts[1]


def check_tag(ref: RefFile, tag: Tag) -> None:
    """Refuse a ref file that points elsewhere than its 5-part tag says."""
    if tag.vault is None:
        return
    mount, path, key = location(ref)
    want_mount, want_path, want_key = tag.vault
    want_path = want_path or tag.file_path
    if (want_mount and want_mount != mount) or want_path != path or want_key != key:
        raise RefError(f"ref vaultkv:{ref.path}: the tag says {want_mount or mount}:{want_path}:"
                       f"{want_key} but the ref file points at {mount}:{path}:{key} "
                       "(tampered ref file?)")


class VaultKVType:
    """Reads (and writes) secrets in a KV engine."""

    name = "vaultkv"

    def __init__(self, backends: Backends):
        self.backends = backends

    def encrypt(self, payload: bytes, encoding: str, params: RefParams) -> dict[str, Any]:
        """Store the value in Vault and point the ref at it."""
        section = params.section(self.name)
        vparams = vault_params(self.name, section, params.vault.get("auth"))
        mount = params.vault.get("mount") or vparams["mount"] or "secret"
        vparams["mount"] = mount  # reveal reads from vault_params.mount: keep them equal
        path = params.vault.get("path")
        key = params.vault.get("key")
        if not path or not key:
            raise RefError("vaultkv: the path and key in vault are needed "
                           "(--vault-key, or a tag ?{vaultkv:ref:mount:path:key})")
        what = f"vaultkv {mount}:{path}:{key}"
        client = vault_client(vparams, what)
        import hvac

        kv = client.secrets.kv.v1 if vparams["engine"] == "kv" else client.secrets.kv.v2
        try:
            try:
                if vparams["engine"] == "kv":
                    current = dict(kv.read_secret(path=path, mount_point=mount)["data"])
                else:
                    current = dict(kv.read_secret_version(
                        path=path, mount_point=mount, raise_on_deleted_version=False)["data"]["data"])
            except hvac.exceptions.InvalidPath:
                current = {}
            current[key] = utf8(payload, what)
            kv.create_or_update_secret(path=path, secret=current, mount_point=mount)
        except hvac.exceptions.VaultError as exc:
            raise RefError(f"{what}: vault: {type(exc).__name__}: {exc}") from None
        finally:
            client.adapter.close()
        return {"data": b64(f"{path}:{key}".encode()), "encoding": encoding, "type": self.name,
                "vault_params": vparams}

    def reveal(self, ref: RefFile) -> str:
        """Read the value from Vault; a missing path or key is an error, never empty."""
        import hvac

        mount, path, key = location(ref)
        what = f"ref vaultkv:{ref.path} ({mount}:{path}:{key})"
        params = ref_vault_params(ref)
        client = vault_client(params, what)
        try:
            if params.get("engine") == "kv":
                data = client.secrets.kv.v1.read_secret(path=path, mount_point=mount)["data"]
            else:
                data = client.secrets.kv.v2.read_secret_version(
                    path=path, mount_point=mount, raise_on_deleted_version=False)["data"]["data"]
        except hvac.exceptions.Forbidden:
            raise RefError(f"{what}: permission denied") from None
        except hvac.exceptions.InvalidPath:
            raise RefError(f"{what}: path does not exist in vault") from None
        except hvac.exceptions.VaultError as exc:
            raise RefError(f"{what}: vault: {type(exc).__name__}: {exc}") from None
        finally:
            client.adapter.close()
        value = data.get(key) if isinstance(data, dict) else None
        if value in (None, ""):
            raise RefError(f"{what}: key {key!r} does not exist or is empty in vault")
        if ref.encoding == "base64":  # Kapitan decodes base64-encoded vault values on reveal
            value = utf8(unb64(str(value), what), what)
        return str(value)

    def rotate(self, ref: RefFile, params: RefParams) -> dict[str, Any] | None:
        """The value lives in Vault: rotate it there."""
        raise not_encrypted(ref)
