"""A real OCI registry on 127.0.0.1 for the oci and helm ``oci://`` tests.

Runs Debian's ``docker-registry`` (CNCF distribution) with filesystem storage
in a temp dir, optionally behind htpasswd basic auth, and pushes artifacts to
it over the distribution API, the way oras and ``helm push`` do.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

BINARY = "/usr/bin/docker-registry"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
EMPTY_CONFIG = "application/vnd.unknown.config.v1+json"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
DIR_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _htpasswd(user: str, password: str) -> str:
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt
    except ImportError:
        pytest.skip("no crypt module to write a bcrypt htpasswd file")
    # The lowest bcrypt cost (2^4): the registry checks it on every request.
    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
    if not hashed or not hashed.startswith("$2"):
        pytest.skip("this libcrypt cannot make bcrypt hashes for htpasswd")
    return f"{user}:{hashed}\n"


def self_signed(common_name: str, ip: str | None = None) -> tuple[rsa.RSAPrivateKey,
                                                                  x509.Certificate]:
    """A new RSA key and a self-signed certificate for it (valid for ``ip`` when given)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1))
               .not_valid_after(now + datetime.timedelta(days=1)))
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
    return key, builder.sign(key, hashes.SHA256())


class TokenServer:
    """A token service as docker's: basic auth in, a JWT for the asked scope out (RS256, x5c)."""

    def __init__(self, tmp: Path, user: str, password: str):
        self.key, cert = self_signed("test token issuer")
        self.cert_der = cert.public_bytes(serialization.Encoding.DER)
        self.bundle = tmp / "token-ca.pem"
        self.bundle.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.issued: list[str] = []  # the scopes tokens were given for
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                if self.headers.get("Authorization") != expected:
                    self.send_error(401, "bad credentials")
                    return
                scopes = query.get("scope", [])
                server.issued.extend(scopes)
                body = json.dumps({"token": server.token(query.get("service", [""])[0], user,
                                                          scopes)}).encode()
                self.send_response(200)  # HTTP/1.0: the body ends with the connection
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def token(self, service: str, user: str, scopes: list[str]) -> str:
        """A JWT the registry accepts, granting ``scopes`` (``repository:name:actions``)."""
        def b64(raw: bytes) -> str:
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        now = int(time.time())
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(self.cert_der).decode()]}
        claims = {"iss": "test-issuer", "sub": user, "aud": service, "exp": now + 600,
                  "nbf": now - 60, "iat": now, "jti": os.urandom(8).hex(), "access": access}
        signing = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        sig = self.key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing}.{b64(sig)}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Registry:
    """A running registry: ``host`` is ``127.0.0.1:PORT``; push with :meth:`push`."""

    def __init__(self, host: str, auth: tuple[str, str] | None, root: Path):
        self.host = host
        self.auth = auth
        self.root = root  # the registry's storage directory
        self.tokens: TokenServer | None = None
        self.ca: Path | None = None  # the CA bundle of a registry that serves https

    def _request(self, method: str, url: str, data: bytes | None = None,
                 headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
        headers = dict(headers or {})
        basic = ("Basic " + base64.b64encode(":".join(self.auth).encode()).decode()
                 if self.auth else None)
        if basic:
            headers["Authorization"] = basic
        if not url.startswith("http"):
            url = f"{'https' if self.ca else 'http'}://{self.host}{url}"
        status, got, body = self._send(method, url, data, headers)
        challenge = got.get("Www-Authenticate") or got.get("WWW-Authenticate") or ""
        if status == 401 and challenge.startswith("Bearer ") and basic:
            params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
            query = urllib.parse.urlencode({"service": params.get("service", ""),
                                            "scope": params.get("scope", "")})
            _, _, raw = self._send("GET", f"{params['realm']}?{query}", None,
                                   {"Authorization": basic})
            headers["Authorization"] = "Bearer " + json.loads(raw)["token"]
            status, got, body = self._send(method, url, data, headers)
        return status, got, body

    def _send(self, method: str, url: str, data: bytes | None,
              headers: dict[str, str]) -> tuple[int, dict, bytes]:
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        context = ssl.create_default_context(cafile=str(self.ca)) if self.ca else None
        try:
            with urllib.request.urlopen(req, timeout=30, context=context) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def push_blob(self, repo: str, data: bytes) -> str:
        """Upload ``data`` as a blob of ``repo``; return its digest."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        status, headers, body = self._request("POST", f"/v2/{repo}/blobs/uploads/")
        assert status == 202, (status, body)
        location = headers["Location"]
        sep = "&" if "?" in location else "?"
        status, _, body = self._request("PUT", f"{location}{sep}digest={digest}", data,
                                        {"Content-Type": "application/octet-stream"})
        assert status == 201, (status, body)
        return digest

    def push_manifest(self, repo: str, tag: str, manifest: dict) -> str:
        """Put ``manifest`` under ``tag``; return the manifest's digest."""
        raw = json.dumps(manifest, separators=(",", ":")).encode()
        status, _, body = self._request("PUT", f"/v2/{repo}/manifests/{tag}", raw,
                                        {"Content-Type": manifest["mediaType"]})
        assert status == 201, (status, body)
        return "sha256:" + hashlib.sha256(raw).hexdigest()

    def push(self, repo: str, tag: str, layers: list[tuple[bytes, str, str | None]],
             config: tuple[bytes, str] = (b"{}", EMPTY_CONFIG)) -> str:
        """Push an artifact of ``layers`` (``(data, media type, title or None)``); its digest."""
        config_data, config_type = config
        descs = []
        for data, media, title in layers:
            desc = {"mediaType": media, "digest": self.push_blob(repo, data), "size": len(data)}
            if title is not None:
                desc["annotations"] = {"org.opencontainers.image.title": title}
            descs.append(desc)
        manifest = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": config_type, "digest": self.push_blob(repo, config_data),
                       "size": len(config_data)},
            "layers": descs,
        }
        return self.push_manifest(repo, tag, manifest)

    def push_chart(self, repo: str, version: str, archive: bytes, name: str) -> str:
        """Push a helm chart archive as ``helm push`` does (tag: version, ``+`` as ``_``)."""
        config = json.dumps({"name": name, "version": version, "apiVersion": "v2"}).encode()
        return self.push(repo, version.replace("+", "_"), [(archive, HELM_LAYER, None)],
                         (config, HELM_CONFIG))


@contextmanager
def running_registry(tmp: Path, auth: tuple[str, str] | None = None,
                     token: bool = False, tls: bool = False) -> Iterator[Registry]:
    """Start ``docker-registry`` on a free port (skip the test when it cannot start).

    ``auth``: the one user allowed, by htpasswd basic auth, or with ``token``
    through a :class:`TokenServer` (bearer tokens), as public registries do.
    ``tls``: serve https with a self-signed certificate, written to ``tmp/ca.pem``.
    """
    if not os.access(BINARY, os.X_OK):
        pytest.skip(f"{BINARY} not installed (apt-get install docker-registry)")
    port = _free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    config = [
        "version: 0.1",
        "log: {level: error}",
        f"storage: {{filesystem: {{rootdirectory: {tmp / 'storage'}}}, delete: {{enabled: true}}}}",
        f"http: {{addr: '127.0.0.1:{port}'"
        + (f", tls: {{certificate: {tmp / 'ca.pem'}, key: {tmp / 'key.pem'}}}" if tls else "")
        + "}",
    ]
    if tls:
        key, cert = self_signed("127.0.0.1", "127.0.0.1")
        (tmp / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (tmp / "key.pem").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption()))
    tokens = None
    if auth and token:
        tokens = TokenServer(tmp, *auth)
        config.append(f"auth: {{token: {{realm: '{tokens.realm}', service: test-registry, "
                      f"issuer: test-issuer, rootcertbundle: {tokens.bundle}}}}}")
    elif auth:
        (tmp / "htpasswd").write_text(_htpasswd(*auth))
        config.append(f"auth: {{htpasswd: {{realm: test, path: {tmp / 'htpasswd'}}}}}")
    (tmp / "config.yml").write_text("\n".join(config) + "\n")
    with open(tmp / "registry.log", "wb") as log:
        proc = subprocess.Popen([BINARY, "serve", str(tmp / "config.yml")], stdout=log,
                                stderr=subprocess.STDOUT,
                                env={"PATH": os.environ.get("PATH", "")})
    try:
        for _ in range(300):  # a loaded CI machine may take a while
            if proc.poll() is not None:
                pytest.skip(f"docker-registry exited at start: "
                            f"{(tmp / 'registry.log').read_text()[-500:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.skip("docker-registry did not start listening within 30s")
        reg = Registry(f"127.0.0.1:{port}", auth, tmp / "storage")
        reg.tokens = tokens
        reg.ca = tmp / "ca.pem" if tls else None
        yield reg
    finally:
        if tokens:
            tokens.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp / "storage", ignore_errors=True)
