"""``type: helm`` dependencies: a chart from a chart repository or an ``oci://`` registry, no helm binary.

Resolve picks the version as ``helm pull --version`` does (an exact match
first, else the newest version the constraint allows; none given: the
newest stable one), downloads the chart archive into the content cache and
checks it against the repository index's digest. The pin is
``{"version", "sha256", "url"}``. Materialize unpacks the archive as
``helm pull --untar`` does and Kapitan then moves it: the chart's files
directly under ``output_path`` (``Chart.yaml`` at its top), each file 0644
with a leading UTF-8 BOM dropped, as helm writes them.

``oci://registry/path/chart`` sources follow helm's OCI rules: a ``version``
that reads as a semantic version is the tag (``+`` spelled ``_``); any other
constraint is matched against the repository's tags.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zlib

import yaml

from .. import __version__
from ..yamlload import SafeLoader
from .base import Dependency, FetchContext, FetchError, Pin
from .oci import client_for
from .registry import Reference, fetch_blob, pinned_digest
from .semver import SemverError, Version, pick, sort_newest_first
from .unpack import Budget

CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
MAX_DOWNLOAD = 512 * 1024 * 1024  # an index.yaml or a chart archive
_BOM = b"\xef\xbb\xbf"
_DRIVE = re.compile(r"^[a-zA-Z]:/")


def _want(dep: Dependency) -> str | None:
    version = dep.option("version")
    return None if version in (None, "") else str(version)


def _chart(dep: Dependency) -> str:
    chart = dep.option("chart_name")
    if not chart:
        raise FetchError("chart_name is required")
    return str(chart)


def _what(chart: str, version: str | None) -> str:
    return f"chart {chart} version {version}" if version else f"chart {chart}"


def _http_get(url: str, ctx: FetchContext) -> bytes:
    req = urllib.request.Request(url, headers={"User-Agent": f"kcompile/{__version__}"})
    try:
        with urllib.request.urlopen(req, timeout=ctx.timeout) as resp:
            data = resp.read(MAX_DOWNLOAD + 1)
        if len(data) > MAX_DOWNLOAD:
            raise FetchError(f"GET {url}: more than {MAX_DOWNLOAD} bytes")
        return data
    except urllib.error.HTTPError as e:
        raise FetchError(f"GET {url}: HTTP {e.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise FetchError(f"cannot reach {url}: {getattr(e, 'reason', e)}") from None


def resolve_reference_url(base: str, ref: str) -> str:
    """``ref`` (an index entry's URL) made absolute against the repository URL, as helm does."""
    if urllib.parse.urlsplit(ref).scheme:
        return ref
    parts = urllib.parse.urlsplit(base)
    base_dir = parts._replace(path=parts.path.rstrip("/") + "/").geturl()
    joined = urllib.parse.urlsplit(urllib.parse.urljoin(base_dir, ref))
    return joined._replace(query=parts.query).geturl()


def chart_entries(index: bytes, chart: str, where: str) -> list:
    """The entries of ``chart`` in a repository's ``index.yaml`` (``[]`` when it has none).

    Public indexes run to tens of megabytes, and parsing all of one takes far
    longer than the fetch: when the index is laid out as helm writes it, only
    the chart's own block is parsed.
    """
    block = _chart_block(index, chart)
    if block is not None:
        try:
            doc = yaml.load(block, Loader=SafeLoader)
            return (doc.get("entries") or {}).get(chart) or []
        except (yaml.YAMLError, AttributeError):
            pass  # read the whole index below
    try:
        doc = yaml.load(index, Loader=SafeLoader)
    except yaml.YAMLError as e:
        raise FetchError(f"{where}: not a YAML chart index: {str(e).splitlines()[0]}") from None
    entries = (doc.get("entries") if isinstance(doc, dict) else None) or {}
    if not isinstance(entries, dict):
        raise FetchError(f"{where}: not a chart index (no entries)")
    found = entries.get(chart)
    return found if isinstance(found, list) else []


def _chart_block(index: bytes, chart: str) -> bytes | None:
    """``entries:`` and only ``chart``'s block of a block-style index, or None if not found so."""
    if index.startswith(b"entries:\n"):
        start = 0
    else:
        start = index.find(b"\nentries:\n") + 1
        if start == 0:
            return None
    key = chart.encode() + b":"
    indent = None
    out: list[bytes] = [b"entries:"]
    inside = False
    for line in index[start:].split(b"\n")[1:]:
        stripped = line.lstrip(b" ")
        if not stripped or stripped.startswith(b"#"):
            continue
        depth = len(line) - len(stripped)
        if indent is None:
            indent = depth
            if indent == 0:
                return None
        if depth < indent:
            break  # the next top-level key
        if depth == indent and not stripped.startswith(b"- "):
            if inside:
                break  # the next chart
            inside = stripped.rstrip() == key
        if inside:
            out.append(line)
    return b"\n".join(out) + b"\n" if inside else None


class HelmFetcher:
    """Helm charts from chart repositories and OCI registries."""

    def resolve(self, dep: Dependency, ctx: FetchContext) -> Pin:
        """Pick the chart version, download its archive into the cache, pin its sha256."""
        chart, wanted = _chart(dep), _want(dep)
        if dep.source.startswith("oci://"):
            return self._resolve_oci(dep, chart, wanted, ctx)
        return self._resolve_repo(dep.source, chart, wanted, ctx)

    def _resolve_repo(self, repo: str, chart: str, wanted: str | None, ctx: FetchContext) -> Pin:
        index_url = repo.rstrip("/") + "/index.yaml"
        versions = [v for v in chart_entries(_http_get(index_url, ctx), chart, index_url)
                    if isinstance(v, dict) and "version" in v]
        if not versions:
            raise FetchError(f"chart {chart} not found in the repository index")
        by_version: dict[str, dict] = {}
        for entry in versions:
            by_version.setdefault(str(entry["version"]), entry)
        chosen = self._pick(chart, sort_newest_first(by_version), wanted)
        entry = by_version[chosen]
        urls = entry.get("urls") or []
        if not isinstance(urls, list) or not urls:
            raise FetchError(f"{_what(chart, chosen)}: the index gives no URL")
        url = resolve_reference_url(repo, str(urls[0]))
        data = _http_get(url, ctx)
        digest = hashlib.sha256(data).hexdigest()
        expected = str(entry.get("digest") or "").removeprefix("sha256:")
        if expected and expected != digest:
            raise FetchError(f"{_what(chart, chosen)}: {url} has sha256:{digest}, "
                             f"the index says sha256:{expected}")
        ctx.cache.add_bytes(data, digest)
        return {"version": chosen, "sha256": digest, "url": url}

    def _resolve_oci(self, dep: Dependency, chart: str, wanted: str | None,
                     ctx: FetchContext) -> Pin:
        ref = Reference.parse(dep.source.removeprefix("oci://"))
        client = client_for(ref, dep, ctx)
        tagged = ":" in dep.source.rsplit("/", 1)[-1]  # oci://host/chart:1.2.3, as helm takes
        if tagged and wanted is None:
            wanted = ref.tag.replace("_", "+")
        if tagged and wanted != ref.tag.replace("_", "+"):
            raise FetchError(f"chart {chart}: the source's tag {ref.tag} and version {wanted} "
                             f"differ")
        if wanted is not None and _is_version(wanted):
            tag = wanted
        else:
            tags = [t.replace("_", "+") for t in client.tags(ref.repository)]
            strict = sort_newest_first(t for t in tags if Version.is_strict(t))
            if not strict:
                raise FetchError(f"chart {chart}: the repository has no version tags")
            tag = self._pick(chart, strict, wanted)
        body, _ = client.manifest(ref.repository, tag.replace("+", "_"))
        try:
            layers = json.loads(body).get("layers") or []
        except (ValueError, AttributeError):
            raise FetchError(f"{_what(chart, tag)}: {ref.name}: manifest is not JSON") from None
        charts = [layer for layer in layers
                  if isinstance(layer, dict) and layer.get("mediaType") == CHART_LAYER]
        if not charts:
            raise FetchError(f"{_what(chart, tag)}: {ref.name}:{tag} is not a helm chart "
                             f"(no {CHART_LAYER} layer)")
        digest = str(charts[0].get("digest"))
        fetch_blob(client, ref.repository, digest, ctx, charts[0].get("size"))
        return {"version": tag, "sha256": digest.removeprefix("sha256:"),
                "url": f"oci://{ref.name}:{tag.replace('+', '_')}"}

    @staticmethod
    def _pick(chart: str, newest_first: list[str], wanted: str | None) -> str:
        try:
            chosen = pick(newest_first, wanted)
        except SemverError as e:
            raise FetchError(f"chart {chart}: version {wanted!r}: {e}") from None
        if chosen is None:
            shown = ", ".join(newest_first[:5]) + (", ..." if len(newest_first) > 5 else "")
            what = f"version {wanted}" if wanted else "a stable version"
            raise FetchError(f"chart {chart}: {what} not found (there are {shown})")
        return chosen

    def materialize(self, dep: Dependency, pin: Pin, ctx: FetchContext, dest: str) -> None:
        """Unpack the chart archive ``pin`` names into ``dest``, ``Chart.yaml`` at its top."""
        chart = _chart(dep)
        what = _what(chart, pin.get("version"))
        sha = pinned_digest(pin, "sha256").removeprefix("sha256:")
        url = str(pin.get("url") or "")
        path = ctx.cache.get(sha)
        if path is None:
            if ctx.offline:
                raise FetchError(f"{what} (sha256:{sha}) is not in the cache "
                                 f"(fetch once without --offline)")
            if not url:
                raise FetchError(f"kcompile.lock gives no url for {what} "
                                 f"(kcompile fetch --update rewrites it)")
            if url.startswith("oci://"):
                ref = Reference.parse(url.removeprefix("oci://"))
                path = fetch_blob(client_for(ref, dep, ctx), ref.repository, f"sha256:{sha}", ctx)
            else:
                try:
                    ctx.cache.add_bytes(_http_get(url, ctx), sha)
                except ValueError:
                    raise FetchError(f"{what}: {url} is no longer the archive locked "
                                     f"(sha256:{sha})") from None
                path = ctx.cache.get(sha)
                assert path is not None
        expand_chart(path, dest, chart, label=f"{what} ({url})" if url else what)


def _is_version(text: str) -> bool:
    try:
        Version.parse(text)
    except SemverError:
        return False
    return True


def expand_chart(archive: str, dest: str, chart: str, label: str) -> None:
    """Write the chart archive's files under ``dest`` as ``helm pull --untar`` lays them out.

    Entries lose their first path component (the chart's directory); the
    archive must hold a ``Chart.yaml`` whose ``name`` is ``chart``.
    """
    budget = Budget(label)
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.isdir():
                    continue
                name = member.name
                if not member.isreg():
                    raise FetchError(f"{label}: {name}: links and special files are not allowed "
                                     f"in a chart")
                budget.entry(name)
                files[_chart_path(name, label)] = _read(tar, member, budget)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise FetchError(f"{label}: not a chart archive (tar.gz): {e}") from None
    if not files:
        raise FetchError(f"{label}: no files in chart archive")
    try:
        meta = yaml.load(files.get("Chart.yaml", b""), Loader=SafeLoader) or {}
    except yaml.YAMLError:
        raise FetchError(f"{label}: cannot load Chart.yaml") from None
    name = meta.get("name") if isinstance(meta, dict) else None
    if not name:
        raise FetchError(f"{label}: Chart.yaml gives no chart name")
    if str(name) != chart:
        raise FetchError(f"{label}: the archive holds chart {name!r}, not {chart!r}")
    for rel, data in files.items():
        out = os.path.join(dest, *rel.split("/"))
        try:
            os.makedirs(os.path.dirname(out), mode=0o755, exist_ok=True)
            with open(out, "wb") as fp:
                fp.write(data)
            os.chmod(out, 0o644)
        except OSError as e:
            raise FetchError(f"{label}: {rel}: cannot write: {e.strerror}") from None


def _chart_path(name: str, label: str) -> str:
    delimiter = "\\" if "\\" in name else "/"
    parts = name.split(delimiter)
    rel = "/".join(parts[1:])
    if rel.startswith("/"):
        raise FetchError(f"{label}: {name}: absolute path in chart")
    rel = posixpath.normpath(rel) if rel else "."
    if rel == ".":
        raise FetchError(f"{label}: {name}: outside the chart's directory")
    if rel.startswith("..") or _DRIVE.match(rel):
        raise FetchError(f"{label}: {name}: path leaves the chart")
    return rel


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo, budget: Budget) -> bytes:
    if member.size > budget.max_bytes - budget.bytes:
        budget.take(member.name, member.size)
    src = tar.extractfile(member)
    data = src.read() if src else b""
    budget.take(member.name, len(data))
    return data.removeprefix(_BOM)
