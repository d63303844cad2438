"""Write refs of every type with the Kapitan installed in *this* Python (an old version).

Run by tests/refs_compat/old/regen.py inside each old Kapitan's venv, as
``python write_refs.py REFS_DIR FINGERPRINT``, with GNUPGHOME holding the test key.
The refs are built the way that version's ``kapitan refs --write`` builds them
(its ``cmd_parser.ref_write``), and written through its own ``RefController``,
so the files are byte for byte what it writes. The vault values are the ones an
inventory of its time held (``VAULT_ADDR``..., read by Kapitan < 0.34 as is).
What a version can only do online is noted in the ``skipped`` list it prints:
vault refs Kapitan >= 0.33 writes through the server are built with
``encrypt=False``, the server step left out; the KMS types use Kapitan's offline
``mock`` key.
"""

import base64
import importlib
import importlib.util
import inspect
import json
import sys
import types

REFS, FPR = sys.argv[1], sys.argv[2]

if importlib.util.find_spec("kapitan.refs") is None:
    # Kapitan < 0.20: gpg secrets only, kapitan.secrets, files without 'type'.
    # Its utils import _jsonnet (which no longer builds here) but secrets never use it.
    sys.modules.setdefault("_jsonnet", types.ModuleType("_jsonnet"))
    from kapitan.secrets import secret_gpg_write

    for path, text, b64 in (("gpg/text", "gpg secret value", False),
                            ("gpg/b64", "gpg secret value", True),
                            ("gpg/config", "api:\n  token: t0k3n\n", False)):
        # with the fingerprint given: its name lookup fails on keys that never
        # expire under today's python-gnupg (expires is '', it expects None)
        secret_gpg_write(REFS, path, text, b64, [{"name": "test", "fingerprint": FPR}])
    print(json.dumps(["gpg only (kapitan.secrets, before ref types); _jsonnet stubbed; "
                      "recipients given by fingerprint"]))
    sys.exit(0)

from kapitan.refs.base import PlainRef, RefController  # noqa: E402

VAULTKV = {"VAULT_ADDR": "http://127.0.0.1:8200", "VAULT_CAPATH": "/etc/ssl/certs",
           "VAULT_SKIP_VERIFY": "true", "auth": "token", "engine": "kv-v2", "mount": "secret"}
VAULTTRANSIT = {"VAULT_ADDR": "http://127.0.0.1:8200", "VAULT_SKIP_VERIFY": "true",
                "auth": "token", "crypto_key": "mykey", "mount": "transit",
                "always_latest": False}
rc = RefController(REFS)
notes = []


def klass(module, name):
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def put(type_name, path, obj):
    rc[f"?{{{type_name}:{path}}}"] = obj


def data(text, b64):
    """What ref_write hands the class: text, base64-encoded first with --base64."""
    return base64.b64encode(text.encode()).decode() if b64 else text


Base64Ref = klass("kapitan.refs.base64", "Base64Ref")
EnvRef = klass("kapitan.refs.env", "EnvRef")
GPGSecret = klass("kapitan.refs.secrets.gpg", "GPGSecret")
for b64 in (False, True):
    sfx = "b64" if b64 else "text"
    enc = {"encoding": "base64"} if b64 else {}
    put("plain", f"plain/{sfx}", PlainRef(data("plain value\n", b64).encode(), **enc))
    put("base64", f"base64/{sfx}", Base64Ref(data("s3cret-base64", b64).encode(), **enc))
    if EnvRef is not None:
        put("env", f"env/{sfx}", EnvRef(data("default-user", b64).encode(), **enc))
    put("gpg", f"gpg/{sfx}", GPGSecret("gpg secret value", [{"name": FPR}], encode_base64=b64))
put("base64", "base64/config", Base64Ref(b"db:\n  user: bob\n  port: 5432\n"))
put("gpg", "gpg/config", GPGSecret("api:\n  token: t0k3n\n", [{"name": FPR}]))
for type_name, module, name in (("awskms", "awskms", "AWSKMSSecret"),
                                ("gkms", "gkms", "GoogleKMSSecret"),
                                ("azkms", "azkms", "AzureKMSSecret")):
    cls = klass(f"kapitan.refs.secrets.{module}", name)
    if cls is None:
        notes.append(f"{type_name}: not in this version")
        continue
    put(type_name, f"{type_name}/mock", cls("anything", "mock"))

VaultSecret = klass("kapitan.refs.secrets.vaultkv", "VaultSecret")
if VaultSecret is not None:
    offline = "encrypt" not in inspect.signature(VaultSecret.__init__).parameters
    if offline:  # Kapitan < 0.33 stores path:key as given, without the server
        put("vaultkv", "vaultkv/db", VaultSecret(b"apps/db:password", dict(VAULTKV)))
    else:
        put("vaultkv", "vaultkv/db",
            VaultSecret(b"apps/db:password", dict(VAULTKV), encrypt=False))
        notes.append("vaultkv: built with encrypt=False (this version writes through vault)")
VaultTransit = klass("kapitan.refs.secrets.vaulttransit", "VaultTransit")
if VaultTransit is None:
    notes.append("vaulttransit: not in this version")
else:
    put("vaulttransit", "vaulttransit/token",
        VaultTransit(b"vault:v1:c2FtcGxlLWNpcGhlcnRleHQ=", dict(VAULTTRANSIT), encrypt=False))
    notes.append("vaulttransit: built with encrypt=False (encryption needs vault)")
print(json.dumps(notes))
