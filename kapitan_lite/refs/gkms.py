"""``gkms`` refs: encrypted with a Google Cloud KMS key (google-cloud-kms).

File: ``data`` is base64 of the KMS ciphertext, ``key`` the full key name
(``projects/P/locations/L/keyRings/R/cryptoKeys/K``). Credentials come from
Google's application default credentials.
"""

from __future__ import annotations

from typing import Any

from google.api_core import exceptions as gexc
from google.auth import exceptions as gauth
from google.cloud import kms

from .backends import KeyedType, b64, unb64, utf8
from .store import RefError, RefFile

_ERRORS = (gexc.GoogleAPIError, gauth.GoogleAuthError)


class GoogleKmsType(KeyedType):
    """Encrypts and decrypts through Cloud KMS."""

    name = "gkms"

    def _new_client(self) -> Any:
        try:
            return kms.KeyManagementServiceClient()
        except _ERRORS as exc:
            raise RefError(f"gkms: cannot create a KMS client: {exc}") from None

    def _encrypt(self, payload: bytes, encoding: str, key: str) -> dict[str, Any]:
        try:
            ciphertext = self.client.encrypt(request={"name": key, "plaintext": payload}).ciphertext
        except _ERRORS as exc:
            raise RefError(f"gkms: encrypt with key {key} failed: {exc}") from None
        return {"data": b64(ciphertext), "encoding": encoding, "key": key, "type": self.name}


    def reveal(self, ref: RefFile) -> str:
        """Decrypt through Cloud KMS with the ref's key."""
        what = f"ref gkms:{ref.path}"
        ciphertext = unb64(ref.data, what)
        try:
            plain = self.client.decrypt(
                request={"name": str(ref.extra.get("key")), "ciphertext": ciphertext}).plaintext
        except _ERRORS as exc:
            raise RefError(f"{what}: cannot decrypt: {exc}") from None
        return utf8(plain, what)
