"""The ``?{type:path}`` tag grammar, as Kapitan parses it.

Forms (``kapitan/refs/base.py``):

- ``?{type:path}`` and ``?{type:path@sub.var}``
- ``?{type:path:hash8}``: the hash must match the stored ref
- ``?{type:path||fn:arg|fn2}``: functions create the ref when it does not exist
- ``?{type:<base64 json>:embedded}`` (``--embed-refs``)
- ``?{vaultkv:path:mount:path_in_vault:key}``
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# Kapitan's tag pattern (kapitan/refs/base.py REF_TOKEN_TAG_PATTERN): the token,
# then an optional ``||fn:arg|fn2`` chain, then optional ``=`` padding.
TAG_RE = re.compile(r"(\?{(\w+:[\w\-\.\@\=\/\:]+)(\|(?:(?:\|\w+)(?::\S*)*)+)?\=*})")
SUBVAR_RE = re.compile(r"(@[\w\.\-\_]+)")

# Kapitan's types, then ours (age).
REF_TYPES = frozenset(
    {"plain", "base64", "env", "gpg", "gkms", "awskms", "azkms", "vaultkv", "vaulttransit",
     "age"}
)


class TagSyntaxError(ValueError):
    """A string that looks like a tag but is not a valid one."""


@dataclass(frozen=True)
class Tag:
    """A parsed ref tag."""

    text: str
    type: str
    path: str  # as written, with any ``@subvar``; the base64 payload when embedded
    hash: str | None = None
    functions: str | None = None  # ``||fn:arg|fn2`` as written
    embedded: bool = False
    vault: tuple[str, str, str] | None = None  # 5-part vaultkv: mount, path in vault, key
    token: str = ""  # between ``?{`` and the functions: ``type:path[:...]``

    @property
    def file_path(self) -> str:
        """The ref file's path under the refs dir (``@subvar`` removed)."""
        return SUBVAR_RE.sub("", self.path)

    @property
    def subvar(self) -> str | None:
        """The ``@a.b`` sub-variable path, if any."""
        parts = self.path.split("@", 1)
        return parts[1] if len(parts) > 1 else None

    @property
    def ref_name(self) -> str:
        """``type:path`` without subvar, as messages name a ref."""
        if self.embedded:
            return f"{self.type}:<embedded>"
        return f"{self.type}:{self.file_path}"


def parse(match: re.Match[str]) -> Tag:
    """Build a :class:`Tag` from a :data:`TAG_RE` match; raise :class:`TagSyntaxError`."""
    text, token, functions = match.groups()
    attrs = token.split(":")
    type_name = attrs[0]
    if len(attrs) == 2:
        return Tag(text, type_name, attrs[1], functions=functions, token=token)
    if len(attrs) == 3 and attrs[2] == "embedded":
        return Tag(text, type_name, attrs[1], embedded=True, functions=functions, token=token)
    if len(attrs) == 3:
        return Tag(text, type_name, attrs[1], hash=attrs[2], functions=functions, token=token)
    if len(attrs) == 5:
        return Tag(text, type_name, attrs[1], functions=functions,
                   vault=(attrs[2], attrs[3], attrs[4]), token=token)
    raise TagSyntaxError(f"{text}: not a valid tag (use ?{{type:path}}, ?{{type:path:hash8}} "
                         "or ?{vaultkv:path:mount:path_in_vault:key})")


def parse_tag(text: str) -> Tag:
    """Parse a whole tag string such as ``?{base64:a/b}``."""
    m = TAG_RE.fullmatch(text.strip())
    if m is None:
        raise TagSyntaxError(f"{text}: not a ref tag")
    return parse(m)


def iter_strings(obj: Any) -> Iterator[str]:
    """Every string in a nested structure of dicts and lists."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def find_tags(obj: Any) -> list[Tag]:
    """Every valid tag in the strings of ``obj``, in a stable order, without duplicates."""
    found: dict[str, Tag] = {}
    for text in iter_strings(obj):
        if "?{" not in text:
            continue
        for m in TAG_RE.finditer(text):
            if m.group(1) in found:
                continue
            try:
                found[m.group(1)] = parse(m)
            except TagSyntaxError:
                continue
    return [found[k] for k in sorted(found)]
