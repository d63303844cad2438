"""Semantic versions and version constraints as helm reads a chart's ``version``.

Helm uses the Masterminds semver library (v3): versions may be partial
(``1.2`` is ``1.2.0``) and carry a ``v``; a constraint is ``||``-separated
groups of comparisons joined by spaces or commas (``>=1.2 <2``, ``^1.2``,
``~1.2.3``, ``1.2.x``, ``*``, ``1.2 - 1.4``), and a pre-release version
matches a comparison only when that comparison names a pre-release itself.
This module follows that library's rules, quirks included, so a constraint
picks the chart version helm would pick.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cmp_to_key

_VERSION = re.compile(
    r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?"
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$", re.ASCII)
_CV = (r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?"
       r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
       r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?")
_OPS = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^"
_ONE = re.compile(rf"^\s*({_OPS})\s*({_CV})\s*$", re.ASCII)
_RANGE = re.compile(rf"\s*({_CV})\s+-\s+({_CV})\s*", re.ASCII)
_FIND = re.compile(rf"({_OPS})\s*({_CV})", re.ASCII)
_VALID = re.compile(rf"^(\s*({_OPS})\s*({_CV})\s*)((?:\s+|,\s*)({_OPS})\s*({_CV})\s*)*$",
                    re.ASCII)


class SemverError(ValueError):
    """Not a version, or not a constraint."""


@dataclass(frozen=True)
class Version:
    """A parsed version; ``original`` is the string it came from."""

    major: int
    minor: int
    patch: int
    pre: str = ""
    original: str = ""

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse ``text`` leniently (``v1``, ``1.2``, ``1.2.3-rc.1+build``)."""
        m = _VERSION.match(text)
        if not m:
            raise SemverError(f"invalid semantic version {text!r}")
        pre = m.group(5) or ""
        for part in pre.split(".") if pre else ():
            if part.isdigit() and len(part) > 1 and part[0] == "0":
                raise SemverError(f"invalid semantic version {text!r}: segment starts with 0")
        return cls(int(m.group(1)), int((m.group(2) or ".0")[1:]), int((m.group(3) or ".0")[1:]),
                   pre, text)

    @staticmethod
    def is_strict(text: str) -> bool:
        """Whether ``text`` is a full ``X.Y.Z[-pre][+meta]`` version (no ``v``, no leading zeros)."""
        core = text.split("+", 1)[0].split("-", 1)[0]
        parts = core.split(".")
        if len(parts) != 3 or not all(p.isdigit() and p.isascii() for p in parts):
            return False
        if any(len(p) > 1 and p[0] == "0" for p in parts):
            return False
        try:
            Version.parse(text)
        except SemverError:
            return False
        return True

    def compare(self, other: Version) -> int:
        """-1, 0 or 1 as ``self`` sorts before, with or after ``other`` (build metadata ignored)."""
        for a, b in ((self.major, other.major), (self.minor, other.minor),
                     (self.patch, other.patch)):
            if a != b:
                return -1 if a < b else 1
        if self.pre == other.pre:
            return 0
        if not self.pre:
            return 1
        if not other.pre:
            return -1
        return _compare_pre(self.pre, other.pre)


def _compare_pre(a: str, b: str) -> int:
    pa, pb = a.split("."), b.split(".")
    for i in range(max(len(pa), len(pb))):
        s = pa[i] if i < len(pa) else ""
        o = pb[i] if i < len(pb) else ""
        if s == o:
            continue
        if not s:
            return -1
        if not o:
            return 1
        s_num, o_num = s.isdigit(), o.isdigit()
        if s_num and o_num:
            return 1 if int(s) > int(o) else -1
        if s_num:
            return -1
        if o_num:
            return 1
        return 1 if s > o else -1
    return 0


def sort_newest_first(versions: Iterable[str]) -> list[str]:
    """``versions`` newest first, as helm sorts an index (unparsable ones last, in order)."""
    items = list(versions)
    good = [v for v in items if _try(v) is not None]
    bad = [v for v in items if _try(v) is None]
    good.sort(key=cmp_to_key(lambda a, b: _try(b).compare(_try(a))))  # type: ignore[union-attr]
    return good + bad


def _try(text: str) -> Version | None:
    try:
        return Version.parse(text)
    except SemverError:
        return None


@dataclass(frozen=True)
class _Comparison:
    op: str
    con: Version
    dirty: bool
    minor_dirty: bool
    patch_dirty: bool

    def check(self, v: Version) -> bool:
        # A pre-release matches only a comparison that names a pre-release
        # (the library skips this rule for a plain ``!=1.2.3``).
        if v.pre and not self.con.pre and (self.op != "!=" or self.dirty):
            return False
        return _OPS_FUNCS[self.op](v, self)


def _is_x(part: str) -> bool:
    return part in ("x", "X", "*")


def _parse_one(text: str) -> _Comparison:
    m = _ONE.match(text)
    if not m:
        raise SemverError(f"improper constraint: {text}")
    op, major, minor, patch = m.group(1), m.group(3), m.group(4) or "", m.group(5) or ""
    pre = m.group(6) or ""
    dirty = minor_dirty = patch_dirty = False
    ver = m.group(2)
    if _is_x(major):
        ver, dirty = f"0.0.0{pre}", True
    elif not minor or _is_x(minor[1:]):
        ver, dirty, minor_dirty = f"{major}.0.0{pre}", True, True
    elif not patch or _is_x(patch[1:]):
        ver, dirty, patch_dirty = f"{major}{minor}.0{pre}", True, True
    return _Comparison(op, Version.parse(ver), dirty, minor_dirty, patch_dirty)


def _tilde_or_equal(v: Version, c: _Comparison) -> bool:
    return _tilde(v, c) if c.dirty else v.compare(c.con) == 0


def _not_equal(v: Version, c: _Comparison) -> bool:
    if c.dirty:
        if c.con.major != v.major:
            return True
        if c.con.minor != v.minor and not c.minor_dirty:
            return True
        if c.minor_dirty:
            return False
        if c.con.patch != v.patch and not c.patch_dirty:
            return True
        if c.patch_dirty:
            if v.pre or c.con.pre:
                return _compare_pre(v.pre, c.con.pre) != 0
            return False
    return v.compare(c.con) != 0


def _greater(v: Version, c: _Comparison) -> bool:
    if not c.dirty:
        return v.compare(c.con) == 1
    if v.major != c.con.major:
        return v.major > c.con.major
    if c.minor_dirty:
        return False
    if c.patch_dirty:
        return v.minor > c.con.minor
    return v.compare(c.con) == 1


def _less(v: Version, c: _Comparison) -> bool:
    return v.compare(c.con) < 0


def _greater_equal(v: Version, c: _Comparison) -> bool:
    return v.compare(c.con) >= 0


def _less_equal(v: Version, c: _Comparison) -> bool:
    if not c.dirty:
        return v.compare(c.con) <= 0
    if v.major > c.con.major:
        return False
    return not (v.major == c.con.major and v.minor > c.con.minor and not c.minor_dirty)


def _tilde(v: Version, c: _Comparison) -> bool:
    if v.compare(c.con) < 0:
        return False
    con = c.con
    if (con.major, con.minor, con.patch) == (0, 0, 0) and not c.minor_dirty and not c.patch_dirty:
        return True
    if v.major != con.major:
        return False
    return v.minor == con.minor or c.minor_dirty


def _caret(v: Version, c: _Comparison) -> bool:
    if v.compare(c.con) < 0:
        return False
    con = c.con
    if con.major > 0 or c.minor_dirty:
        return v.major == con.major
    if v.major > 0:
        return False
    if con.minor > 0 or c.patch_dirty:
        return v.minor == con.minor
    if v.minor > 0:
        return False
    return v.patch == con.patch


_OPS_FUNCS: dict[str, Callable[[Version, _Comparison], bool]] = {
    "": _tilde_or_equal, "=": _tilde_or_equal, "!=": _not_equal, ">": _greater, "<": _less,
    ">=": _greater_equal, "=>": _greater_equal, "<=": _less_equal, "=<": _less_equal,
    "~": _tilde, "~>": _tilde, "^": _caret,
}


class Constraint:
    """A parsed constraint: any of its ``||`` groups, all of whose comparisons hold."""

    def __init__(self, text: str):
        self.text = text
        rewritten = text
        for m in _RANGE.finditer(text):
            rewritten = rewritten.replace(m.group(0), f">= {m.group(1)}, <= {m.group(11)} ", 1)
        self.groups: list[list[_Comparison]] = []
        for group in rewritten.split("||"):
            if not _VALID.match(group):
                raise SemverError(f"improper constraint: {group.strip() or text}")
            parts = [m.group(0) for m in _FIND.finditer(group)] or [group]
            self.groups.append([_parse_one(p) for p in parts])

    def check(self, version: Version) -> bool:
        """Whether ``version`` satisfies the constraint."""
        return any(all(c.check(version) for c in group) for group in self.groups)


def pick(candidates: Iterable[str], wanted: str | None) -> str | None:
    """The version helm picks from ``candidates`` (newest first) for the ``wanted`` constraint.

    ``wanted`` must be a constraint (:class:`SemverError` if not, even when a
    candidate is spelled so); an exact string match wins, else the first
    candidate that parses and satisfies it. None or ``""`` means ``*`` (the
    newest stable).
    """
    items = list(candidates)
    constraint = Constraint(wanted or "*")
    if wanted and wanted in items:
        return wanted
    for item in items:
        version = _try(item)
        if version is not None and constraint.check(version):
            return item
    return None
