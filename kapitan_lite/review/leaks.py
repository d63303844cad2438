"""The leak guard: no plaintext of a ref may sit in ``compiled/``.

Every ref whose plaintext can be revealed without a key
(:func:`~kapitan_lite.refs.reveal.reveal_plaintext`) is looked for in the
compiled files, as it is and base64-encoded (a Kubernetes Secret's ``data``).
A multi-line plaintext is looked for by its longest line, which survives
YAML indentation and JSON escaping of the line breaks. The plaintext itself
is never printed.

Not looked for:
- ``plain`` refs: they are not secrets, and Kapitan writes their value into
  ``compiled/`` by design;
- plaintexts shorter than :data:`MIN_LENGTH` characters (``true``, ``admin``,
  a port number): they would match ordinary text and raise false alarms.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from dataclasses import dataclass

from ..refs.backends import SUBSTITUTED
from ..refs.reveal import reveal_plaintext
from ..refs.store import RefError, RefStore

MIN_LENGTH = 6


@dataclass(frozen=True, order=True)
class Leak:
    """A compiled file holding the plaintext of a ref."""

    file: str  # as given to find_leaks
    ref: str  # type:path, never the value


def _needles(text: str) -> list[bytes]:
    text = text.strip()
    if "\n" in text:
        text = max((line.strip() for line in text.splitlines()), key=len)
    if len(text) < MIN_LENGTH:
        return []
    raw = text.encode("utf-8")
    return [raw, base64.b64encode(raw)]


def secret_needles(refs_dir: str) -> dict[bytes, str]:
    """``{bytes to look for: type:path of its ref}`` for every revealable secret ref."""
    out: dict[bytes, str] = {}
    if not os.path.isdir(refs_dir):
        return out
    store = RefStore(refs_dir)
    for here, dirs, files in os.walk(refs_dir):
        dirs.sort()
        for name in sorted(files):
            rel = os.path.relpath(os.path.join(here, name), refs_dir)
            try:
                ref = store.get(rel)
            except RefError:
                continue  # not a ref file (a README, a key): nothing to reveal
            if ref is None or ref.type in SUBSTITUTED:
                continue
            plaintext = reveal_plaintext(ref)
            if plaintext is None:
                continue
            for needle in _needles(plaintext):
                out.setdefault(needle, f"{ref.type}:{rel}")
    return out


def find_leaks(refs_dir: str, files: Iterable[tuple[str, str]]) -> list[Leak]:
    """Which of ``files`` (``(name to report, path)``) hold a secret ref's plaintext."""
    needles = secret_needles(refs_dir)
    if not needles:
        return []
    contents: list[tuple[str, bytes]] = []
    for shown, path in files:
        with open(path, "rb") as fp:
            contents.append((shown, fp.read()))
    # One pass over everything per secret, then a file-by-file look only for
    # the few found: a search per file and secret costs several times more.
    everything = b"\0".join(data for _, data in contents)
    present = [n for n in needles if n in everything]
    return sorted({Leak(shown, needles[n]) for n in present
                   for shown, data in contents if n in data})
