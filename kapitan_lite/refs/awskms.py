"""``awskms`` refs: encrypted with an AWS KMS key through boto3.

File (Kapitan's, quirks included): ``data`` is base64 of the base64 of the
KMS ciphertext blob, ``key`` the key id or ARN. Decryption needs no key id
(KMS reads it from the blob). boto3 takes credentials, region and endpoint
(``AWS_ENDPOINT_URL``) from its usual environment and config files.
"""

from __future__ import annotations

import base64
from typing import Any

import boto3
import botocore.exceptions

from .backends import KeyedType, b64, unb64, utf8
from .store import RefError, RefFile


def aws_reason(exc: Exception) -> str:
    """A one-line reason from a boto error (no traceback)."""
    if isinstance(exc, botocore.exceptions.ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'error')}: {err.get('Message', '')}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


class AwsKmsType(KeyedType):
    """Encrypts and decrypts through the KMS API."""

    name = "awskms"

    def _new_client(self) -> Any:
        try:
            return boto3.session.Session().client("kms")
        except botocore.exceptions.BotoCoreError as exc:
            raise RefError(f"awskms: cannot create a KMS client: {aws_reason(exc)}") from None

    def _encrypt(self, payload: bytes, encoding: str, key: str) -> dict[str, Any]:
        try:
            blob = self.client.encrypt(KeyId=key, Plaintext=payload)["CiphertextBlob"]
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise RefError(f"awskms: encrypt with key {key} failed: {aws_reason(exc)}") from None
        return {"data": b64(base64.b64encode(blob)), "encoding": encoding, "key": key,
                "type": self.name}


    def reveal(self, ref: RefFile) -> str:
        """Decrypt through KMS."""
        what = f"ref awskms:{ref.path}"
        blob = unb64(unb64(ref.data, what).decode("ascii", "replace"), what)
        try:
            plain = self.client.decrypt(CiphertextBlob=blob)["Plaintext"]
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise RefError(f"{what}: cannot decrypt: {aws_reason(exc)}") from None
        return utf8(plain, what)
