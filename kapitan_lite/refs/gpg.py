"""``gpg`` refs: encrypted with the real ``gpg`` through python-gnupg.

File: ``data`` is base64 of the binary (unarmored) OpenPGP message,
``recipients`` is ``[{fingerprint: ...}]``, sorted, as Kapitan writes it.
Recipients come from ``--recipient`` (names, e-mails or fingerprints) or from
the target's ``parameters.kapitan.secrets.gpg.recipients`` (``[{name, fingerprint}]``).
A name resolves to its first key that has not expired, as in Kapitan.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any

import gnupg

from .backends import Backends, RefParams, b64, unb64, utf8
from .store import RefError, RefFile

_FINGERPRINT = re.compile(r"[0-9A-Fa-f]{40}")


def _gpg_reason(result: Any) -> str:
    """gpg's own words for a failure: its status and the last error line."""
    lines = [ln for ln in (getattr(result, "stderr", "") or "").splitlines()
             if ln.startswith("gpg:")]
    status = getattr(result, "status", None) or "failed"
    return f"{status}" + (f" ({lines[-1][5:].strip()})" if lines else "")


class GpgType:
    """Encrypts to gpg recipients, decrypts with the user's keyring (``GNUPGHOME``)."""

    name = "gpg"

    def __init__(self, backends: Backends):
        self.backends = backends
        self._gpg: gnupg.GPG | None = None

    @property
    def gpg(self) -> gnupg.GPG:
        """One python-gnupg handle per run and process."""
        if self._gpg is None:
            try:
                self._gpg = gnupg.GPG()
            except (OSError, ValueError) as exc:
                raise RefError(f"gpg is not usable: {exc} (install GnuPG)") from None
        return self._gpg

    def fingerprints(self, recipients: Iterable[Any]) -> list[str]:
        """Sorted unique fingerprints for recipients (names, fingerprints or ``{name, fingerprint}``)."""
        found = set()
        for rec in recipients:
            if isinstance(rec, dict):
                fpr, name = rec.get("fingerprint"), rec.get("name")
            else:
                text = str(rec).replace(" ", "")
                fpr, name = (text, None) if _FINGERPRINT.fullmatch(text) else (None, str(rec))
            if fpr:
                found.add(str(fpr).upper())
            elif name:
                found.add(self.lookup(str(name)))
        return sorted(found)

    def lookup(self, name: str) -> str:
        """The fingerprint of ``name``'s first key that is neither expired nor revoked."""
        now = time.time()
        for key in self.gpg.list_keys(keys=[name]):
            expires = key.get("expires")
            if key.get("trust") in ("r", "e"):  # revoked or expired
                continue
            if not expires or now < int(expires):
                return str(key["fingerprint"])
        raise RefError(f"gpg: no usable key for recipient {name!r} in the keyring")

    def _recipients(self, params: RefParams) -> list[str]:
        recipients: Iterable[Any] = params.recipients or params.section("gpg").get("recipients") or ()
        fingerprints = self.fingerprints(recipients)
        if not fingerprints:
            raise params.missing("gpg recipients", "--recipient", "gpg.recipients")
        return fingerprints

    def _encrypt(self, payload: bytes, encoding: str, fingerprints: list[str]) -> dict[str, Any]:
        # always_trust: the recipients are named explicitly (often imported,
        # unsigned team keys); Kapitan users otherwise hit "invalid recipient".
        enc = self.gpg.encrypt(payload, fingerprints, armor=False, always_trust=True)
        if not enc.ok:
            raise RefError(f"gpg encryption to {', '.join(fingerprints)} failed: {_gpg_reason(enc)}")
        return {"data": b64(enc.data), "encoding": encoding,
                "recipients": [{"fingerprint": f} for f in fingerprints], "type": self.name}

    def encrypt(self, payload: bytes, encoding: str, params: RefParams) -> dict[str, Any]:
        """Encrypt to the recipients of ``params``."""
        return self._encrypt(payload, encoding, self._recipients(params))

    def reveal(self, ref: RefFile) -> str:
        """Decrypt with the keyring's secret keys."""
        what = f"ref gpg:{ref.path}"
        dec = self.gpg.decrypt(unb64(ref.data, what))
        if not dec.ok:
            raise RefError(f"{what}: cannot decrypt: {_gpg_reason(dec)}")
        return utf8(dec.data, what)

    def rotate(self, ref: RefFile, params: RefParams) -> dict[str, Any] | None:
        """Re-encrypt to new recipients; ``None`` when they are already the ref's."""
        new = self._recipients(params)
        current = self.fingerprints(ref.extra.get("recipients") or ())
        if new == current:
            return None
        return self._encrypt(self.reveal(ref).encode(), ref.encoding, new)
