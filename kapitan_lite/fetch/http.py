"""http and https dependencies: ``source`` and ``unpack``, through the standard library.

Resolving downloads the file into the content cache and gives
``{"sha256": ...}``; writing takes it from the cache, downloading it only when
the cache lacks it (never offline) and refusing bytes that are not the pin's.
An archive's type is read from its first bytes, then from the server's
Content-Type and the URL; a file that is none of tar, tar.gz or zip is an
error (Kapitan drops it silently, its #730). Extraction is ``unpack``'s.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from urllib.parse import urlparse

from .. import __version__
from .base import Dependency, FetchContext, FetchError, Pin
from .cache import ContentCache

# The largest download accepted: a guard against a server that never stops.
MAX_BYTES = 2 << 30
_CONTENT_TYPES = {
    "application/x-tar": "tar",
    "application/tar": "tar",
    "application/gzip": "tar.gz",
    "application/x-gzip": "tar.gz",
    "application/x-compressed-tar": "tar.gz",
    "application/x-gtar": "tar.gz",
    "application/zip": "zip",
    "application/x-zip-compressed": "zip",
}
_SUFFIXES = ((".tar.gz", "tar.gz"), (".tgz", "tar.gz"), (".tar", "tar"), (".zip", "zip"))


def archive_kind(path: str, content_type: str | None, url: str) -> str:
    """How to unpack the file at ``path``: by content first, then Content-Type, then URL.

    Raises :class:`FetchError` when it is no archive we unpack.
    """
    from .unpack import sniff

    kind = sniff(path)
    if kind:
        return kind
    ctype = (content_type or "").split(";")[0].strip().lower()
    # Old tar archives carry no magic: trust the server, or the name, for those only.
    if _CONTENT_TYPES.get(ctype) == "tar":
        return "tar"
    name = urlparse(url).path.lower()
    if name.endswith(".tar") and ctype in ("", "application/octet-stream"):
        return "tar"
    claimed = _CONTENT_TYPES.get(ctype) or next((k for s, k in _SUFFIXES if name.endswith(s)), None)
    what = f"Content-Type {ctype}" if ctype else "no Content-Type"
    if claimed:
        raise FetchError(f"cannot unpack: the server says {claimed} ({what}), "
                         "but the content is not a tar, tar.gz or zip archive")
    raise FetchError(f"cannot unpack: the content is not a tar, tar.gz or zip archive ({what})")


class HttpFetcher:
    """Downloads http(s) files into the content cache."""

    def __init__(self) -> None:
        self._content_types: dict[str, str] = {}  # sha256 -> Content-Type seen this run

    def _download(self, url: str, cache: ContentCache, timeout: float) -> str:
        """Download ``url`` into the cache; return its sha256."""
        import urllib.error  # here: a fetch from the cache needs no HTTP client
        import urllib.request

        if urlparse(url).scheme not in ("http", "https"):
            raise FetchError("source must be an http:// or https:// URL")
        req = urllib.request.Request(url, headers={"User-Agent": f"kcompile/{__version__}"})
        os.makedirs(cache.root, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache.root, prefix=".download-")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(req, timeout=timeout) as resp:
                ctype = resp.headers.get("Content-Type", "")
                size = 0
                while chunk := resp.read(1 << 20):
                    size += len(chunk)
                    if size > MAX_BYTES:
                        raise FetchError(f"download larger than {MAX_BYTES >> 20} MiB")
                    out.write(chunk)
            digest = cache.add_file(tmp)
        except urllib.error.HTTPError as exc:
            raise FetchError(f"download failed: HTTP {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            raise FetchError(f"download failed: {exc.reason}") from None
        except (OSError, ValueError) as exc:
            raise FetchError(f"download failed: {exc}") from None
        finally:
            os.unlink(tmp)
        self._content_types[digest] = ctype
        return digest

    def resolve(self, dep: Dependency, ctx: FetchContext) -> Pin:
        """Download the file as it is upstream now; its sha256 is the pin."""
        return {"sha256": self._download(dep.source, ctx.cache, ctx.timeout)}

    def materialize(self, dep: Dependency, pin: Pin, ctx: FetchContext, dest: str) -> None:
        """Write the pinned file into ``dest``: unpacked, or as ``dest/<name of output_path>``."""
        digest = pin.get("sha256", "")
        try:
            blob = ctx.cache.get(digest)
        except ValueError:
            raise FetchError(f"the lock's sha256 {digest!r} is not a sha256 digest") from None
        if blob is None:
            if ctx.offline:
                raise FetchError(f"sha256 {digest[:12]} is not in the cache (--offline)")
            got = self._download(dep.source, ctx.cache, ctx.timeout)
            if got != digest.removeprefix("sha256:"):
                raise FetchError(f"the file changed upstream: sha256 {got[:12]}, but "
                                 f"kcompile.lock pins {digest[:12]} (kcompile fetch --update "
                                 "takes the new one)")
            blob = ctx.cache.get(digest)
            assert blob is not None
        if not dep.option("unpack", False):
            shutil.copyfile(blob, os.path.join(dest, os.path.basename(dep.output_path.rstrip("/"))))
            return
        kind = archive_kind(blob, self._content_types.get(digest.removeprefix("sha256:")),
                            dep.source)
        from .unpack import extract

        extract(blob, dest, kind=kind, label=os.path.basename(urlparse(dep.source).path) or "archive")
