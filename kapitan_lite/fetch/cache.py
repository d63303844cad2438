"""The persistent, content-addressed download cache shared by every project.

Blobs are stored by the sha256 of their bytes under
``<root>/blobs/sha256/<hex>``; git repositories as bare mirrors under
``<root>/git/<sha256 of the source URL>.git``. The root is
``$KCOMPILE_CACHE_DIR``, else ``$XDG_CACHE_HOME/kapitan-lite``, else
``~/.cache/kapitan-lite``. A blob is written to a temporary name and renamed
into place, so a reader never sees half a blob, and two runs may share the
cache.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile


def default_root() -> str:
    """Where the cache lives unless told otherwise."""
    explicit = os.environ.get("KCOMPILE_CACHE_DIR")
    if explicit:
        return os.path.abspath(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "kapitan-lite")


def sha256_file(path: str) -> str:
    """The hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fp:
        for chunk in iter(lambda: fp.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ContentCache:
    """Blobs by sha256, and git mirrors by source URL."""

    def __init__(self, root: str | None = None):
        self.root = os.path.abspath(root or default_root())

    def _blob(self, digest: str) -> str:
        digest = digest.removeprefix("sha256:")
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a sha256 digest: {digest!r}")
        return os.path.join(self.root, "blobs", "sha256", digest)

    def get(self, digest: str) -> str | None:
        """The path of the blob with this sha256 (``hex`` or ``sha256:hex``), or None."""
        path = self._blob(digest)
        return path if os.path.isfile(path) else None

    def add_file(self, src: str, digest: str | None = None) -> str:
        """Copy ``src`` into the cache and return its hex sha256.

        With ``digest``, the bytes must have that sha256, else ``ValueError``
        and nothing is stored.
        """
        actual = sha256_file(src)
        if digest is not None and actual != digest.removeprefix("sha256:"):
            raise ValueError(f"sha256 mismatch: expected {digest}, got sha256:{actual}")
        dest = self._blob(actual)
        if not os.path.isfile(dest):
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), prefix=".tmp-")
            os.close(fd)
            try:
                shutil.copyfile(src, tmp)
                os.replace(tmp, dest)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        return actual

    def add_bytes(self, data: bytes, digest: str | None = None) -> str:
        """Store ``data`` and return its hex sha256 (checked against ``digest`` if given)."""
        os.makedirs(self.root, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fp:
                fp.write(data)
            return self.add_file(tmp, digest)
        finally:
            os.unlink(tmp)

    def git_dir(self, source: str) -> str:
        """The path of the bare mirror kept for the git repository at ``source``."""
        key = hashlib.sha256(source.encode()).hexdigest()
        return os.path.join(self.root, "git", f"{key}.git")
