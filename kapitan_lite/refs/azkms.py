"""``azkms`` refs: encrypted with an Azure Key Vault key (RSA-OAEP-256).

File: ``data`` is base64 of the ciphertext, ``key`` the key id
(``https://<vault>.vault.azure.net/keys/<name>/<version>``; Kapitan also
accepts it without ``https://``). Credentials come from
``DefaultAzureCredential``.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import AzureError
from azure.identity import DefaultAzureCredential
from azure.keyvault.keys.crypto import CryptographyClient, EncryptionAlgorithm

from .backends import Backends, KeyedType, b64, unb64, utf8
from .store import RefError, RefFile


def key_url(key_id: str) -> str:
    """The key id as a URL (Kapitan allows leaving out ``https://``)."""
    return key_id if key_id.startswith("https://") else f"https://{key_id.lstrip('/')}"


class AzureKmsType(KeyedType):
    """Encrypts and decrypts through Key Vault."""

    name = "azkms"

    def __init__(self, backends: Backends):
        self.backends = backends
        self._credential: Any = None
        self._clients: dict[str, CryptographyClient] = {}

    def client(self, key_id: str) -> CryptographyClient:
        """One crypto client per key per run and process."""
        if key_id not in self._clients:
            if self._credential is None:
                self._credential = DefaultAzureCredential()
            self._clients[key_id] = CryptographyClient(key_url(key_id), self._credential)
        return self._clients[key_id]

    def _encrypt(self, payload: bytes, encoding: str, key: str) -> dict[str, Any]:
        try:
            result = self.client(key).encrypt(EncryptionAlgorithm.rsa_oaep_256, payload)
        except (AzureError, ValueError) as exc:
            raise RefError(f"azkms: encrypt with key {key} failed: {exc}") from None
        return {"data": b64(result.ciphertext), "encoding": encoding, "key": key,
                "type": self.name}


    def reveal(self, ref: RefFile) -> str:
        """Decrypt through Key Vault with the ref's key."""
        what = f"ref azkms:{ref.path}"
        ciphertext = unb64(ref.data, what)
        try:
            result = self.client(str(ref.extra.get("key"))).decrypt(
                EncryptionAlgorithm.rsa_oaep_256, ciphertext)
        except (AzureError, ValueError) as exc:
            raise RefError(f"{what}: cannot decrypt: {exc}") from None
        return utf8(result.plaintext, what)
