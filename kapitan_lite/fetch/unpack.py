"""Safe extraction of downloaded archives (tar, tar.gz/tgz, tar.bz2, tar.xz, zip).

Every entry must land inside the destination: an absolute name, a ``..`` that
climbs out, a symlink or hard link pointing out, a device file or FIFO, or an
entry written through a symlink is refused, and so is an archive that unpacks
to more than :data:`MAX_BYTES` bytes or :data:`MAX_FILES` entries. A refusal is
a :class:`FetchError` naming the archive and the entry; the caller extracts
into a fresh directory and throws it away on error.

A tar entry's mode is kept as Python's ``data`` extraction filter keeps it
(which Kapitan uses on Python 3.12+): no setuid/setgid/sticky or group/other
write bits, execute bits only when the owner may execute, the owner may
always read and write. Zip entries are written 0644, as Python's zipfile (and
so Kapitan) writes them; directories 0755. Owners and times are not restored,
so the same archive gives the same tree on every machine.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import posixpath
import stat
import tarfile
import zipfile
import zlib
from typing import IO

from .base import FetchError

# Defaults, overridable per run with these environment variables.
MAX_BYTES = 2 * 1024**3  # 2 GiB unpacked
MAX_FILES = 100_000  # entries of any kind
MAX_BYTES_ENV = "KCOMPILE_UNPACK_MAX_BYTES"
MAX_FILES_ENV = "KCOMPILE_UNPACK_MAX_FILES"

KINDS = ("tar", "tar.gz", "tar.bz2", "tar.xz", "zip")
_ALIASES = {"tgz": "tar.gz", "gz": "tar.gz", "tbz2": "tar.bz2", "txz": "tar.xz"}
_CHUNK = 1 << 20


def _env_limit(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise FetchError(f"{name}={raw!r}: not a whole number") from None
    if value <= 0:
        raise FetchError(f"{name}={raw!r}: must be positive")
    return value


class Budget:
    """How many bytes and entries an archive may still unpack to."""

    def __init__(self, label: str):
        self.label = label
        self.max_bytes = _env_limit(MAX_BYTES_ENV, MAX_BYTES)
        self.max_files = _env_limit(MAX_FILES_ENV, MAX_FILES)
        self.bytes = 0
        self.files = 0

    def entry(self, name: str) -> None:
        """Count one more entry."""
        self.files += 1
        if self.files > self.max_files:
            raise FetchError(f"{self.label}: {name}: more than {self.max_files} entries "
                             f"(raise {MAX_FILES_ENV} to allow more)")

    def take(self, name: str, n: int) -> None:
        """Count ``n`` more unpacked bytes."""
        self.bytes += n
        if self.bytes > self.max_bytes:
            raise FetchError(f"{self.label}: {name}: unpacks to more than {self.max_bytes} "
                             f"bytes (raise {MAX_BYTES_ENV} to allow more)")


def _tar_payload(head: bytes) -> bool:
    """Whether ``head`` (at least one 512-byte block) starts a tar archive."""
    if len(head) < 512:
        return False
    if head[257:262] == b"ustar":
        return True
    # A pre-POSIX (v7) header: only its checksum says it is one.
    try:
        stored = int(head[148:156].split(b"\0", 1)[0].strip() or b"-1", 8)
    except ValueError:
        return False
    block = head[:148] + b" " * 8 + head[156:512]
    return stored == sum(block)


def sniff(path: str) -> str | None:
    """The kind of archive ``path`` holds, from its bytes: one of :data:`KINDS`, or None."""
    with open(path, "rb") as fp:
        magic = fp.read(6)
        fp.seek(0)
        if magic[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
            return "zip"
        openers = {b"\x1f\x8b": ("tar.gz", gzip.open), b"BZ": ("tar.bz2", bz2.open),
                   b"\xfd7z": ("tar.xz", lzma.open)}
        for prefix, (kind, opener) in openers.items():
            if magic.startswith(prefix):
                try:
                    with opener(path, "rb") as inner:
                        head = inner.read(512)
                except (OSError, EOFError, lzma.LZMAError):
                    return None
                return kind if _tar_payload(head) else None
        return "tar" if _tar_payload(fp.read(512)) else None


def extract(archive_path: str, dest: str, kind: str | None = None, *,
            label: str | None = None) -> None:
    """Unpack ``archive_path`` into the directory ``dest`` (created if missing).

    ``kind`` is one of :data:`KINDS` (or ``tgz``); None sniffs it from the
    bytes. ``label`` names the archive in messages (default: its path).
    Raises :class:`FetchError` on an unknown kind or any unsafe entry.
    """
    label = label or archive_path
    kind = _ALIASES.get(kind, kind) if kind else sniff(archive_path)
    if kind not in KINDS:
        raise FetchError(f"{label}: not a tar, tar.gz or zip archive")
    os.makedirs(dest, exist_ok=True)
    writer = _Writer(os.path.realpath(dest), Budget(label))
    try:
        if kind == "zip":
            _extract_zip(archive_path, writer)
        else:
            _extract_tar(archive_path, writer)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError) as e:
        raise FetchError(f"{label}: corrupt {kind} archive: {e}") from None
    except NotImplementedError as e:  # a zip compression method Python lacks
        raise FetchError(f"{label}: cannot unpack: {e}") from None
    writer.check_links()


class _Writer:
    """Writes entries under ``root``, never through a symlink, and checks each name."""

    def __init__(self, root: str, budget: Budget):
        self.root = root
        self.budget = budget
        self.links: list[tuple[str, str]] = []  # (entry name, path) of each symlink made

    def fail(self, name: str, what: str) -> FetchError:
        return FetchError(f"{self.budget.label}: {name}: {what}")

    def relpath(self, name: str) -> str:
        """The normalised relative path an entry names, or an error if it leaves the root."""
        if name.startswith("/") or (len(name) > 1 and name[1] == ":" and name[0].isalpha()):
            raise self.fail(name, "absolute path")
        rel = posixpath.normpath(name)
        if rel == ".." or rel.startswith("../"):
            raise self.fail(name, "path leaves the destination")
        return rel

    def _parent(self, name: str, rel: str) -> str:
        """Create the parent directories of ``rel``, refusing to pass through a symlink."""
        path = self.root
        for part in rel.split("/")[:-1]:
            path = os.path.join(path, part)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                os.mkdir(path, 0o755)
                continue
            if stat.S_ISLNK(st.st_mode):
                raise self.fail(name, f"written through the symlink {os.path.relpath(path, self.root)}")
            if not stat.S_ISDIR(st.st_mode):
                raise self.fail(name, f"{os.path.relpath(path, self.root)} is not a directory")
        return os.path.join(self.root, rel)

    def _clear(self, name: str, path: str) -> None:
        """Make room for an entry at ``path``: a later entry replaces an earlier file or link."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            raise self.fail(name, "a directory of the same name is already there")
        os.unlink(path)

    def directory(self, name: str) -> None:
        """Create the directory entry ``name``."""
        self.budget.entry(name)
        rel = self.relpath(name)
        if rel == ".":
            return
        path = self._parent(name, rel)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            os.mkdir(path, 0o755)
            return
        if not stat.S_ISDIR(st.st_mode):
            raise self.fail(name, "a file of the same name is already there")

    def file(self, name: str, src: IO[bytes], mode: int) -> None:
        """Write the regular file entry ``name`` from the stream ``src``."""
        self.budget.entry(name)
        rel = self.relpath(name)
        if rel == ".":
            raise self.fail(name, "a file entry names the destination itself")
        path = self._parent(name, rel)
        self._clear(name, path)
        self._write(name, path, src, mode)

    def symlink(self, name: str, target: str) -> None:
        """Create the symlink entry ``name`` -> ``target``, which must stay inside the root."""
        self.budget.entry(name)
        rel = self.relpath(name)
        if target.startswith("/") or not target:
            raise self.fail(name, f"symlink to {target!r} leaves the destination")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
        if resolved == ".." or resolved.startswith("../"):
            raise self.fail(name, f"symlink to {target!r} leaves the destination")
        path = self._parent(name, rel)
        self._clear(name, path)
        os.symlink(target, path)
        self.links.append((name, path))

    def hardlink(self, name: str, target: str) -> None:
        """The hard link entry ``name`` to an earlier regular file: written as a copy."""
        self.budget.entry(name)
        rel = self.relpath(name)
        try:
            target_rel = self.relpath(target)
        except FetchError:
            raise self.fail(name, f"hard link to {target!r} leaves the destination") from None
        src = os.path.join(self.root, target_rel)
        # The target's own parents must not be symlinks either.
        self._parent(target, target_rel)
        try:
            st = os.lstat(src)
        except FileNotFoundError:
            raise self.fail(name, f"hard link to {target!r}, which is not in the archive before it") from None
        if not stat.S_ISREG(st.st_mode):
            raise self.fail(name, f"hard link to {target!r}, which is not a regular file")
        path = self._parent(name, rel)
        if path == src:
            return
        self._clear(name, path)
        with open(src, "rb") as fp:
            self._write(name, path, fp, stat.S_IMODE(st.st_mode))

    def _write(self, name: str, path: str, src: IO[bytes], mode: int) -> None:
        """Write ``src`` to the new file ``path`` (never following a link), counting its bytes."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "wb") as out:
            while chunk := src.read(_CHUNK):
                self.budget.take(name, len(chunk))
                out.write(chunk)
        os.chmod(path, mode)  # whatever the umask

    def check_links(self) -> None:
        """Each symlink, resolved through the final tree, must still point inside the root."""
        for name, path in self.links:
            real = os.path.realpath(path)
            if real != self.root and not real.startswith(self.root + os.sep):
                raise self.fail(name, f"symlink to {os.readlink(path)!r} leaves the destination")


def data_mode(mode: int) -> int:
    """A regular file's mode as Python's ``data`` tar filter restores it."""
    mode &= 0o755
    if not mode & 0o100:
        mode &= ~0o111
    return mode | 0o600


def _extract_tar(archive_path: str, writer: _Writer) -> None:
    with tarfile.open(archive_path, "r:*") as tar:
        for member in tar:
            name = member.name
            if member.isdir():
                writer.directory(name)
            elif member.isreg():
                if member.size > writer.budget.max_bytes - writer.budget.bytes:
                    writer.budget.take(name, member.size)
                src = tar.extractfile(member)
                assert src is not None
                with src:
                    writer.file(name, src, data_mode(member.mode))
            elif member.issym():
                writer.symlink(name, member.linkname)
            elif member.islnk():
                writer.hardlink(name, member.linkname)
            else:
                kind = "device file" if member.ischr() or member.isblk() else "special file"
                raise writer.fail(name, f"{kind} not allowed")


def _extract_zip(archive_path: str, writer: _Writer) -> None:
    with zipfile.ZipFile(archive_path) as zf:
        for info in zf.infolist():
            name = info.filename
            if info.flag_bits & 0x1:
                raise writer.fail(name, "encrypted entry")
            if info.is_dir():
                writer.directory(name)
                continue
            mode = info.external_attr >> 16
            fmt = stat.S_IFMT(mode)
            if fmt and fmt not in (stat.S_IFREG, stat.S_IFLNK):
                raise writer.fail(name, "special file not allowed")
            # A zip symlink is written as a file holding its target, as Python's
            # zipfile (and so Kapitan) does: it can never point anywhere.
            if info.file_size > writer.budget.max_bytes - writer.budget.bytes:
                writer.budget.take(name, info.file_size)
            with zf.open(info) as src:
                writer.file(name, src, 0o644)

