"""Merging one tree into another, as reclass merges classes, without mutating either.

The rules follow kapicorp-reclass's ``Parameters._merge_recurse`` and the
"simple" merge of ``ValueList``s that it performs before interpolation:

* dict over dict: merged key by key (new keys keep their order, at the end);
* list over list: concatenated; scalar over scalar: replaced;
* anything else (a reference, a ``~``/``=`` flagged value, or a change of
  type): both sides are kept, in order, in a :class:`Stack` that is combined
  after interpolation (where type errors, constants and overrides apply).

Dicts are copied only along the paths that the new tree touches; everything
else is shared. Nothing is ever mutated, which makes merged prefixes safe to
share between targets.
"""

from __future__ import annotations

from typing import Any

from .values import MISSING, Flagged, Ref, Stack

_NOT_PLAIN = (dict, list, Ref, Flagged, Stack)


def merge(cur: Any, new: Any) -> Any:
    """``new`` merged over ``cur`` (``MISSING`` when there is no value yet)."""
    if cur is MISSING:
        return new
    tn = type(new)
    tc = type(cur)
    if tn is dict:
        if tc is dict:
            out = dict(cur)
            get = out.get
            for key, value in new.items():
                old = get(key, MISSING)
                out[key] = value if old is MISSING else merge(old, value)
            return out
    elif tn is list:
        if tc is list:
            return cur + new
    elif tn not in _NOT_PLAIN and tc not in _NOT_PLAIN:
        return new
    if tc is Stack:
        return Stack((*cur.items, *new.items) if tn is Stack else (*cur.items, new))
    return Stack((cur, *new.items) if tn is Stack else (cur, new))


def merge_into(base: dict, new: dict) -> dict:
    """``new`` merged over the mapping ``base`` (both top-level ``parameters``)."""
    if not new:
        return base
    if not base:
        return new
    return merge(base, new)
