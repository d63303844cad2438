"""What a dependency is, and the interface every dependency type implements.

A fetch has two steps per dependency:

1. **resolve**: ask upstream what the dependency names *now* and return a
   *pin*, the small mapping the lock file records (``{"commit": sha}`` for
   git, ``{"sha256": ...}`` for http, ``{"version": ..., "sha256": ...}`` for
   helm, ``{"digest": ...}`` for oci). Skipped when the lock already pins it,
   and never called offline.
2. **materialize**: write the content that a pin names into a new, empty
   directory, taking it from the content cache when the cache holds it and
   downloading it into the cache first when not. Content that does not
   match its pin is an error, never written.

The orchestrator then moves that directory into ``output_path`` (all or
nothing per dependency).

A fetcher may also have ``listing(dep, pin, ctx) -> dict[str, str] | None``:
the files (relative, ``/``-separated) that ``materialize`` would write, each
with its git blob id (the sha1 of ``b"blob <size>\\0" + bytes``), or None
when it cannot say cheaply. A fetch whose files are all there already
(unforced), or all there with those bytes (forced), writes nothing and
materializes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .cache import ContentCache

Pin = dict[str, str]


@dataclass(frozen=True)
class Dependency:
    """One entry of a target's ``parameters.kapitan.dependencies``."""

    type: str  # git, http, https, helm, oci
    source: str
    output_path: str  # as written in the inventory: relative to --output-path
    # The type's own keys, as written: ref, subdir, submodules (git); unpack
    # (http); chart_name, version, helm_path (helm); subpath, media_type,
    # insecure, tls_verify (oci).
    options: Mapping[str, Any] = field(default_factory=dict)
    force_fetch: bool = False
    target: str = ""  # the first target that declares it, for messages
    path: str = ""  # the inventory file:line that declares it
    line: int = 0

    def option(self, key: str, default: Any = None) -> Any:
        """One of the type's own keys, or ``default``."""
        value = self.options.get(key)
        return default if value is None else value

    def describe(self) -> str:
        """``git https://...`` / ``helm https://repo nginx``: how messages name it."""
        chart = self.options.get("chart_name")
        return f"{self.type} {self.source}" + (f" {chart}" if chart else "")


class FetchError(Exception):
    """A dependency could not be fetched: one line, said of that dependency."""

    def __init__(self, message: str, dependency: Dependency | None = None):
        super().__init__(message)
        self.message = message
        self.dependency = dependency


@dataclass
class FetchContext:
    """What a fetcher may use besides its dependency."""

    cache: ContentCache
    offline: bool = False
    # A scratch directory of this run, removed at its end.
    scratch: str = ""
    # Seconds before a network call gives up.
    timeout: float = 60.0


class Fetcher(Protocol):
    """One dependency type."""

    def resolve(self, dep: Dependency, ctx: FetchContext) -> Pin:
        """What ``dep`` names upstream now, as the pin the lock file records.

        Raises :class:`FetchError` naming what is wrong (a ref, chart or
        version not found, a server error...).
        """
        ...

    def materialize(self, dep: Dependency, pin: Pin, ctx: FetchContext, dest: str) -> None:
        """Write the content ``pin`` names into the new, empty directory ``dest``.

        For a dependency whose ``output_path`` is a single file (http without
        ``unpack``), write that one file as ``dest/<basename of output_path>``.
        Offline, only the cache may be read; a miss is a :class:`FetchError`
        naming what is missing.
        """
        ...
