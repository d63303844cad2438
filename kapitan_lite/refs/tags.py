"""The ``?{type:path}`` tag grammar, as Kapitan parses it."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Kapitan's tag pattern (kapitan/refs/base.py REF_TOKEN_TAG_PATTERN): the token,
# then an optional ``||fn:arg|fn2`` chain, then optional ``=`` padding.
TAG_RE = re.compile(r"(\?{(\w+:[\w\-\.\@\=\/\:]+)(\|(?:(?:\|\w+)(?::\S*)*)+)?\=*})")
SUBVAR_RE = re.compile(r"(@[\w\.\-\_]+)")

REF_TYPES = frozenset(
    {"plain", "base64", "env", "gpg", "gkms", "awskms", "azkms", "vaultkv", "vaulttransit"}
)


@dataclass(frozen=True)
class Tag:
    """A parsed ref tag."""

    text: str
    type: str
    path: str  # as written, with any ``@subvar``
    hash: str | None = None
    functions: str | None = None
    embedded: bool = False

    @property
    def file_path(self) -> str:
        """The ref file's path under the refs dir (``@subvar`` removed)."""
        return SUBVAR_RE.sub("", self.path)

    @property
    def subvar(self) -> str | None:
        """The ``@a.b`` sub-variable path, if any."""
        parts = self.path.split("@", 1)
        return parts[1] if len(parts) > 1 else None


def parse(match: re.Match[str]) -> Tag:
    """Build a :class:`Tag` from a :data:`TAG_RE` match."""
    text, token, functions = match.groups()
    attrs = token.split(":")
    type_name = attrs[0]
    if len(attrs) == 3 and attrs[2] == "embedded":
        return Tag(text, type_name, attrs[1], embedded=True, functions=functions)
    if len(attrs) == 3:
        return Tag(text, type_name, attrs[1], hash=attrs[2], functions=functions)
    # 2 parts: type:path; 5 parts: vaultkv type:path:mount:path_in_vault:key
    return Tag(text, type_name, attrs[1], functions=functions)
