"""``vaulttransit`` refs: encrypted by a HashiCorp Vault transit key (hvac).

File: ``data`` is base64 of Vault's ``vault:v1:...`` ciphertext;
``vault_params`` as for ``vaultkv``, with ``engine: transit``, ``mount``
(default ``transit``) and ``crypto_key``, the transit key's name
(``--key``, or ``parameters.kapitan.secrets.vaulttransit.crypto_key``).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from .backends import Backends, RefParams, b64, unb64, utf8
from .store import RefError, RefFile
from .vaultkv import ref_vault_params, vault_client, vault_params


class VaultTransitType:
    """Encrypts and decrypts through a transit engine."""

    name = "vaulttransit"

    def __init__(self, backends: Backends):
        self.backends = backends

    def _encrypt(self, payload: bytes, encoding: str, vparams: dict[str, Any]) -> dict[str, Any]:
        import hvac

        key, mount = vparams.get("crypto_key"), vparams.get("mount") or "transit"
        what = f"vaulttransit key {key}"
        client = vault_client(vparams, what)
        try:
            response = client.secrets.transit.encrypt_data(
                name=key, mount_point=mount, plaintext=b64(payload))
        except hvac.exceptions.VaultError as exc:
            raise RefError(f"{what}: vault: {type(exc).__name__}: {exc}") from None
        finally:
            client.adapter.close()
        ciphertext = response["data"]["ciphertext"]
        return {"data": b64(ciphertext.encode()), "encoding": encoding, "type": self.name,
                "vault_params": vparams}

    def _params(self, params: RefParams, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
        section = dict(base if base is not None else params.section(self.name))
        vparams = vault_params(self.name, section, params.vault.get("auth"))
        if params.key:
            vparams["crypto_key"] = params.key
        if not vparams.get("crypto_key"):
            raise RefError("vaulttransit: no transit key: give --key or set parameters."
                           "kapitan.secrets.vaulttransit.crypto_key (use -t TARGET)")
        return vparams

    def encrypt(self, payload: bytes, encoding: str, params: RefParams) -> dict[str, Any]:
        """Encrypt with the transit key of ``params``."""
        return self._encrypt(payload, encoding, self._params(params))

    def reveal(self, ref: RefFile) -> str:
        """Decrypt through the transit engine (rewrapping first with ``always_latest``)."""
        import hvac

        what = f"ref vaulttransit:{ref.path}"
        vparams = ref_vault_params(ref)
        key, mount = vparams.get("crypto_key"), vparams.get("mount") or "transit"
        if not key:
            raise RefError(f"{what}: vault_params.crypto_key is not set")
        ciphertext = utf8(unb64(ref.data, what), what)
        client = vault_client(vparams, what)
        try:
            if vparams.get("always_latest"):
                ciphertext = client.secrets.transit.rewrap_data(
                    name=key, mount_point=mount, ciphertext=ciphertext)["data"]["ciphertext"]
            response = client.secrets.transit.decrypt_data(
                name=key, mount_point=mount, ciphertext=ciphertext)
        except hvac.exceptions.VaultError as exc:
            raise RefError(f"{what}: cannot decrypt: {type(exc).__name__}: {exc}") from None
        finally:
            client.adapter.close()
        return utf8(base64.b64decode(response["data"]["plaintext"]), what)

    def rotate(self, ref: RefFile, params: RefParams) -> dict[str, Any] | None:
        """Re-encrypt with another transit key; ``None`` when it is already the ref's."""
        current = ref_vault_params(ref)
        key = params.key or params.section(self.name).get("crypto_key")
        if not key:
            raise RefError("vaulttransit: no transit key to rotate to: give --key or -t TARGET")
        if key == current.get("crypto_key"):
            return None
        vparams = {**current, "crypto_key": key}
        return self._encrypt(self.reveal(ref).encode(), ref.encoding, vparams)
