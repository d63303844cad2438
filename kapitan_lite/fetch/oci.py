"""``type: oci`` dependencies: an artifact pulled from an OCI registry, as Kapitan's oras pull.

The pin is the manifest's digest. Each layer becomes a file named by its
``org.opencontainers.image.title`` annotation (its digest when it has none);
a ``application/vnd.oci.image.layer.v1.tar+gzip`` layer (how oras pushes a
directory) is unpacked beside that name instead. Then, as Kapitan does, every
pulled file that is a tar archive is unpacked into the artifact's root and
removed. ``subpath`` picks a directory of the result; ``media_type`` keeps
only the layers of that type. Every blob is checked against its digest, and
archives unpack safely (:mod:`.unpack`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

from .base import Dependency, FetchContext, FetchError, Pin
from .registry import INDEX_TYPES, Reference, RegistryClient, fetch_blob, pinned_digest
from .unpack import extract, sniff

DIR_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
TITLE = "org.opencontainers.image.title"


def client_for(ref: Reference, dep: Dependency, ctx: FetchContext) -> RegistryClient:
    """A registry client with the dependency's ``insecure`` / ``tls_verify`` settings."""
    tls = dep.option("tls_verify", True)
    return RegistryClient(ref.registry, insecure=bool(dep.option("insecure", False)),
                          tls_verify=tls if isinstance(tls, str) else bool(tls),
                          timeout=ctx.timeout)


def _reference(dep: Dependency) -> Reference:
    for scheme in ("https://", "http://", "oci://"):
        if dep.source.startswith(scheme):
            raise FetchError(f"source must be a bare registry reference (registry/repo:tag), "
                             f"without {scheme}")
    media = dep.option("media_type")
    if media is not None and "/" not in str(media):
        raise FetchError(f"media_type {media!r} is not a MIME type (type/subtype)")
    return Reference.parse(dep.source)


def _load_manifest(body: bytes, where: str) -> dict:
    try:
        doc = json.loads(body)
    except ValueError:
        raise FetchError(f"{where}: manifest is not JSON") from None
    if not isinstance(doc, dict):
        raise FetchError(f"{where}: manifest is not a JSON object")
    if doc.get("mediaType") in INDEX_TYPES or "manifests" in doc:
        raise FetchError(f"{where}: is an image index (several platforms), not an artifact")
    return doc


class OciFetcher:
    """Artifacts from an OCI registry (no oras needed)."""

    def resolve(self, dep: Dependency, ctx: FetchContext) -> Pin:
        """The digest of the manifest that ``source`` names now (its manifest is cached)."""
        ref = _reference(dep)
        client = client_for(ref, dep, ctx)
        body, digest = client.manifest(ref.repository, ref.digest or ref.tag)
        _load_manifest(body, str(ref))
        ctx.cache.add_bytes(body, digest)
        return {"digest": digest}

    def materialize(self, dep: Dependency, pin: Pin, ctx: FetchContext, dest: str) -> None:
        """Pull the artifact ``pin`` names into ``dest`` (its ``subpath`` only, when set)."""
        ref = _reference(dep)
        digest = pinned_digest(pin, "digest")
        where = f"{ref.name}@{digest}"
        client = client_for(ref, dep, ctx)
        path = ctx.cache.get(digest)
        if path:
            with open(path, "rb") as fp:
                body = fp.read()
        elif ctx.offline:
            raise FetchError(f"manifest {where} is not in the cache (fetch once without --offline)")
        else:
            body, _ = client.manifest(ref.repository, digest)
            ctx.cache.add_bytes(body, digest)
        manifest = _load_manifest(body, where)
        media = dep.option("media_type")
        listed = manifest.get("layers") or []
        if not isinstance(listed, list) or not all(isinstance(x, dict) for x in listed):
            raise FetchError(f"{where}: the manifest's layers are not a list of descriptors")
        layers = [layer for layer in listed if media is None or layer.get("mediaType") == media]
        os.makedirs(dest, exist_ok=True)
        # The artifact is pulled inside dest, so that its subpath moves up by renames.
        work = tempfile.mkdtemp(dir=dest, prefix=".oci-pull-")
        try:
            root = os.path.realpath(work)
            for layer in layers:
                self._write_layer(client, ref, layer, root, ctx)
            _unpack_tar_files(root, where)
            src = _subpath(root, dep.option("subpath"), where)
            for name in sorted(os.listdir(src)):
                os.rename(os.path.join(src, name), os.path.join(dest, name))
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _write_layer(self, client: RegistryClient, ref: Reference, layer: dict, root: str,
                     ctx: FetchContext) -> None:
        digest = str(layer.get("digest", ""))
        annotations = layer.get("annotations")
        title = str((annotations.get(TITLE) if isinstance(annotations, dict) else None) or digest)
        norm = os.path.normpath(title)
        if (os.path.isabs(title) or norm in (os.curdir, os.pardir)
                or norm.startswith(os.pardir + os.sep)):
            raise FetchError(f"{ref}: layer title {title!r} leaves the artifact")
        blob = fetch_blob(client, ref.repository, digest, ctx, layer.get("size"))
        target = os.path.join(root, norm)
        if layer.get("mediaType") == DIR_LAYER:
            extract(blob, os.path.dirname(target), "tar.gz", label=f"{ref} layer {title}")
            return
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.lexists(target) and not os.path.isfile(target):
            raise FetchError(f"{ref}: layer {title!r} clashes with a directory of that name")
        shutil.copyfile(blob, target, follow_symlinks=False)


def _unpack_tar_files(root: str, where: str) -> None:
    """Unpack into ``root`` every file under it that is a tar archive, and remove it.

    Kapitan does this after its oras pull (so a tarball pushed as a plain file
    arrives unpacked); the files are found first, in name order, then unpacked.
    """
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if not os.path.islink(path) and sniff(path) not in (None, "zip"):
                found.append(path)
    for path in found:
        label = f"{where}: {os.path.relpath(path, root)}"
        tmp = path + ".unpacking"
        os.rename(path, tmp)
        try:
            extract(tmp, root, label=label)
        finally:
            os.unlink(tmp)


def _subpath(root: str, subpath: str | None, where: str) -> str:
    if not subpath:
        return root
    src = os.path.realpath(os.path.join(root, subpath))
    if src != root and not src.startswith(root + os.sep):
        raise FetchError(f"{where}: subpath {subpath!r} leaves the artifact")
    if not os.path.isdir(src):
        raise FetchError(f"{where}: subpath {subpath!r} not found in the artifact")
    return src
