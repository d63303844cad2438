"""A small client of the OCI distribution API: manifests, tags and blobs, read-only.

Shared by ``oci`` dependencies and helm's ``oci://`` charts. Plain HTTP with
urllib: ``insecure`` talks http instead of https, ``tls_verify`` is False (no
check) or a CA bundle path; a registry on a loopback address that does not
speak TLS is spoken to in http, as docker does. Credentials come from ``OCI_USERNAME`` /
``OCI_PASSWORD``, else from the ``auth`` entry of the Docker config
(``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``); a registry that
answers 401 gets them as basic auth, or exchanged for a bearer token at the
realm it names.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import os
import re
import ssl
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from .base import FetchContext, FetchError, Pin

MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
INDEX_TYPES = MANIFEST_TYPES[1::2]
MAX_MANIFEST = 4 * 1024 * 1024
MAX_DOWNLOAD = 4 * 1024**3  # a blob whose descriptor gives no size
_CHUNK = 1 << 20
# registry/namespace/repo[:tag][@digest], as oras reads it.
_REF = re.compile(r"^(?:(?P<registry>[^/@]+[.:][^/@]*)/)?(?P<repo>(?:[^:@/]+/)*[^:@/]+)"
                  r"(?::(?P<tag>[^:@]+))?(?:@(?P<digest>.+))?$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class RegistryError(FetchError):
    """The registry answered with an error status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Reference:
    """An artifact's address: ``registry/repository`` and a tag or a digest."""

    registry: str
    repository: str
    tag: str = "latest"
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> Reference:
        """Parse ``registry/repo:tag`` or ``registry/repo@sha256:...`` (tag default ``latest``)."""
        m = _REF.match(text)
        if not m:
            raise FetchError(f"{text!r} is not an OCI reference (registry/repository:tag)")
        digest = m.group("digest")
        if digest is not None and not _DIGEST.match(digest):
            raise FetchError(f"{text!r}: {digest!r} is not a sha256 digest")
        return cls(m.group("registry") or "docker.io", m.group("repo"), m.group("tag") or "latest",
                   digest)

    @property
    def name(self) -> str:
        """``registry/repository``."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        return f"{self.name}@{self.digest}" if self.digest else f"{self.name}:{self.tag}"


def _credentials(registry: str) -> tuple[str, str] | None:
    user, password = os.environ.get("OCI_USERNAME"), os.environ.get("OCI_PASSWORD")
    if user and password:
        return user, password
    config_dir = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    try:
        with open(os.path.join(config_dir, "config.json")) as fp:
            auths = json.load(fp).get("auths") or {}
    except (OSError, ValueError, AttributeError):
        return None
    for key in (registry, f"https://{registry}", f"http://{registry}"):
        entry = auths.get(key) or {}
        if isinstance(entry, dict) and entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            return user, password
    return None


class _StripAuthOnRedirect(urllib.request.HTTPRedirectHandler):
    """Registries redirect blob downloads to storage hosts: their credentials stay behind."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        """The redirected request, without ``Authorization`` when it goes to another host."""
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlsplit(newurl).netloc != \
                urllib.parse.urlsplit(req.full_url).netloc:
            new.remove_header("Authorization")
        return new


def _is_loopback(host: str) -> bool:
    if host.startswith("["):  # [::1]:5000
        name = host[1:host.find("]")]
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(re.findall(r'(\w+)="([^"]*)"', rest))


class RegistryClient:
    """Talks to one registry, keeping the tokens it is given while it lives."""

    def __init__(self, registry: str, *, insecure: bool = False, tls_verify: bool | str = True,
                 timeout: float = 60.0):
        self.registry = registry
        host = "registry-1.docker.io" if registry == "docker.io" else registry
        self.base = f"{'http' if insecure else 'https'}://{host}"
        self.timeout = timeout
        context: ssl.SSLContext | None = None
        if not insecure:
            try:
                if tls_verify is False:
                    context = ssl._create_unverified_context()
                elif isinstance(tls_verify, str):
                    context = ssl.create_default_context(cafile=tls_verify)
            except (OSError, ssl.SSLError) as e:
                raise FetchError(f"tls_verify {tls_verify!r}: cannot load the CA bundle: "
                                 f"{getattr(e, 'strerror', None) or e}") from None
        self.opener = urllib.request.build_opener(_StripAuthOnRedirect(),
                                                  urllib.request.HTTPSHandler(context=context))
        self.auth: dict[str, str] = {}  # scope -> Authorization header value
        self.credentials = _credentials(registry)
        # As docker does, a registry on this machine that does not speak TLS is
        # spoken to in plain http (helm has no ``insecure`` key for oci:// charts).
        self.plain_http_fallback = not insecure and _is_loopback(host)

    def _open(self, url: str, headers: dict[str, str], method: str = "GET") -> Any:
        req = urllib.request.Request(url, headers=headers, method=method)
        try:
            return self.opener.open(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            return e
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", e)
            # Only a server that does not speak TLS at all; a certificate that
            # fails verification stays an error.
            if (self.plain_http_fallback and isinstance(reason, ssl.SSLError)
                    and not isinstance(reason, ssl.SSLCertVerificationError)
                    and url.startswith(self.base + "/")):
                self.plain_http_fallback = False
                http_base = "http://" + self.base.removeprefix("https://")
                url, self.base = http_base + url[len(self.base):], http_base
                return self._open(url, headers, method)
            hint = ("; set tls_verify to its CA bundle, or to false"
                    if isinstance(reason, ssl.SSLCertVerificationError) else "")
            raise FetchError(f"cannot reach registry {self.registry}: {reason}{hint}") from None

    def _token(self, header: str, scope: str) -> str | None:
        scheme, params = _challenge(header)
        if scheme == "basic":
            if not self.credentials:
                return None
            raw = ":".join(self.credentials).encode()
            return "Basic " + base64.b64encode(raw).decode()
        if scheme != "bearer" or "realm" not in params:
            return None
        query = {"scope": scope, **({"service": params["service"]} if "service" in params else {})}
        headers = {}
        if self.credentials:
            raw = ":".join(self.credentials).encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        resp = self._open(params["realm"] + "?" + urllib.parse.urlencode(query), headers)
        with resp:
            if resp.status != 200:
                raise FetchError(f"registry {self.registry}: token request refused "
                                 f"(HTTP {resp.status}); check OCI_USERNAME/OCI_PASSWORD")
            try:
                doc = json.loads(resp.read(MAX_MANIFEST))
            except ValueError:
                raise FetchError(f"registry {self.registry}: the token service sent no JSON") from None
        token = doc.get("token") or doc.get("access_token")
        return f"Bearer {token}" if token else None

    def get(self, repository: str, path: str, accept: str = "") -> Any:
        """GET ``/v2/<repository>/<path>``, authenticating when asked; the open response.

        A status other than 200 is a :class:`FetchError` naming it (404: not found).
        """
        scope = f"repository:{repository}:pull"
        url = f"{self.base}/v2/{repository}/{path}"
        headers = {"Accept": accept} if accept else {}
        if scope in self.auth:
            headers["Authorization"] = self.auth[scope]
        resp = self._open(url, headers)
        if resp.status == 401 and "Authorization" not in headers:
            challenge = resp.headers.get("WWW-Authenticate", "")
            resp.close()
            token = self._token(challenge, scope)
            if token:
                self.auth[scope] = headers["Authorization"] = token
                resp = self._open(url, headers)
        if resp.status != 200:
            status = resp.status
            resp.close()
            what = {401: "unauthorized (set OCI_USERNAME/OCI_PASSWORD)", 403: "access denied",
                    404: "not found"}.get(status, f"HTTP {status}")
            raise RegistryError(f"{self.registry}/{repository}: {path}: {what}", status)
        return resp

    def manifest(self, repository: str, reference: str) -> tuple[bytes, str]:
        """The manifest bytes for a tag or digest, and their ``sha256:`` digest (checked)."""
        kind = "digest" if reference.startswith("sha256:") else "tag"
        try:
            resp = self.get(repository, f"manifests/{reference}", ", ".join(MANIFEST_TYPES))
        except RegistryError as e:
            if e.status != 404:
                raise
            raise FetchError(f"{kind} {reference} not found") from None
        with resp:
            body = resp.read(MAX_MANIFEST + 1)
        if len(body) > MAX_MANIFEST:
            raise FetchError(f"{self.registry}/{repository}:{reference}: manifest over "
                             f"{MAX_MANIFEST} bytes")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if reference.startswith("sha256:") and digest != reference:
            raise FetchError(f"{self.registry}/{repository}@{reference}: the registry sent a "
                             f"manifest whose digest is {digest}")
        return body, digest

    def tags(self, repository: str) -> list[str]:
        """Every tag of ``repository`` (following the registry's pages)."""
        tags: list[str] = []
        path = "tags/list"
        while path:
            with self.get(repository, path) as resp:
                link = resp.headers.get("Link", "")
                try:
                    tags.extend(json.loads(resp.read(MAX_MANIFEST)).get("tags") or [])
                except ValueError:
                    raise FetchError(f"{self.registry}/{repository}: tag list is not JSON") from None
            m = re.search(r"<([^>]*)>", link)
            path = ""
            if m:
                nxt = urllib.parse.urlsplit(m.group(1))
                prefix = f"/v2/{repository}/"
                if nxt.path.startswith(prefix):
                    path = nxt.path[len(prefix):] + (f"?{nxt.query}" if nxt.query else "")
        return tags

    def blob(self, repository: str, digest: str, scratch: str,
             max_bytes: int = MAX_DOWNLOAD) -> str:
        """Download the blob ``digest`` into a new file under ``scratch``; its bytes are checked.

        More than ``max_bytes`` (the size its descriptor gives, when known) is an error.
        """
        if not _DIGEST.match(digest):
            raise FetchError(f"{self.registry}/{repository}: {digest!r} is not a sha256 digest")
        h = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=scratch, prefix=".blob-")
        try:
            with os.fdopen(fd, "wb") as out, self.get(repository, f"blobs/{digest}") as resp:
                size = 0
                while chunk := resp.read(_CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise FetchError(f"{self.registry}/{repository}: blob {digest} is larger "
                                         f"than the {max_bytes} bytes expected")
                    h.update(chunk)
                    out.write(chunk)
        except BaseException:
            os.unlink(tmp)
            raise
        if "sha256:" + h.hexdigest() != digest:
            os.unlink(tmp)
            raise FetchError(f"{self.registry}/{repository}: blob {digest} arrived with "
                             f"sha256:{h.hexdigest()}")
        return tmp


def pinned_digest(pin: Pin, key: str) -> str:
    """``pin[key]`` as ``sha256:<hex>`` (bare hex accepted); a lock edited wrong is a FetchError."""
    value = str(pin.get(key) or "")
    digest = value if value.startswith("sha256:") else f"sha256:{value}"
    if not _DIGEST.match(digest):
        raise FetchError(f"kcompile.lock pins {key} {value!r}, which is not a sha256 digest "
                         f"(kcompile fetch --update rewrites it)")
    return digest


def fetch_blob(client: RegistryClient, repository: str, digest: str, ctx: FetchContext,
               size: object = None) -> str:
    """The cache path of blob ``digest``, downloading it into the cache first if missing.

    ``size`` is the descriptor's, if any: a download may not exceed it.
    """
    if not _DIGEST.match(digest):
        raise FetchError(f"{client.registry}/{repository}: {digest!r} is not a sha256 digest")
    cached = ctx.cache.get(digest)
    if cached:
        return cached
    if ctx.offline:
        raise FetchError(f"blob {digest} of {client.registry}/{repository} is not in the cache "
                         f"(fetch once without --offline)")
    scratch = ctx.scratch or ctx.cache.root
    os.makedirs(scratch, exist_ok=True)
    limit = size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 \
        else MAX_DOWNLOAD
    tmp = client.blob(repository, digest, scratch, limit)
    try:
        ctx.cache.add_file(tmp, digest)
    finally:
        os.unlink(tmp)
    path = ctx.cache.get(digest)
    assert path is not None
    return path
