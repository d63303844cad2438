"""Kapitan's Jinja2 filters (``kapitan/jinja2_filters.py`` semantics) and custom filter files."""

from __future__ import annotations

import base64
import datetime
import glob
import hashlib
import importlib.util
import os
import random
import re
import time
import types
from collections.abc import Callable
from typing import Any

import yaml


def sha256(text: str) -> str:
    """Hex sha256 of a UTF-8 string."""
    return hashlib.sha256(text.encode("UTF-8")).hexdigest()


def b64encode(text: str) -> str:
    """Base64 of a UTF-8 string."""
    return base64.b64encode(text.encode("UTF-8")).decode("UTF-8")


def b64decode(text: str) -> str:
    """Decode base64 to a UTF-8 string."""
    return base64.b64decode(text).decode("UTF-8")


def to_yaml(obj: Any) -> str:
    """``yaml.safe_dump(obj, default_flow_style=False)``: sorted keys, trailing newline."""
    return yaml.safe_dump(obj, default_flow_style=False)


def to_toml(obj: Any) -> str:
    """TOML text from the ``toml`` package."""
    import toml  # here: it imports decimal, and few templates use the filter

    return toml.dumps(obj)


def fileglob(pathname: str) -> list[str]:
    """Regular files matching a glob, relative to the project root."""
    return [g for g in glob.glob(pathname) if os.path.isfile(g)]


def to_bool(value: Any) -> bool | None:
    """``yes``/``on``/``1``/``true`` (any case) or 1 are True; None and bools pass through."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        value = value.lower()
    return value in ("yes", "on", "1", "true", 1)


def to_datetime(text: str, format: str = "%Y-%m-%d %H:%M:%S", tz: Any = None) -> datetime.datetime:
    """Parse a date with ``strptime``; naive unless ``tz`` is given."""
    dt = datetime.datetime.strptime(text, format)
    return dt.replace(tzinfo=tz) if tz is not None else dt


def strftime(string_format: str, second: Any = None) -> str:
    """Format the current (or the given epoch) local time."""
    if second is not None:
        try:
            second = int(second)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"Invalid value for epoch value ({second})") from exc
    return time.strftime(string_format, time.localtime(second))


def regex_replace(value: str = "", pattern: str = "", replacement: str = "",
                  ignorecase: bool = False) -> str:
    """``re.sub``."""
    return re.compile(pattern, flags=re.IGNORECASE if ignorecase else 0).sub(replacement, value)


def regex_escape(text: str) -> str:
    """``re.escape``."""
    return re.escape(text)


def regex_search(value: str, regex: str, *args: str, **kwargs: Any) -> Any:
    """The whole match, or the listed groups (``'\\1'``, ``'\\g<name>'``), or None."""
    groups: list[int | str] = []
    for arg in args:
        if arg.startswith("\\g"):
            m = re.match(r"\\g<(\S+)>", arg)
            if not m:
                raise ValueError(f"regex_search: bad group reference {arg!r}")
            groups.append(m.group(1))
        elif arg.startswith("\\"):
            m = re.match(r"\\(\d+)", arg)
            if not m:
                raise ValueError(f"regex_search: bad group reference {arg!r}")
            groups.append(int(m.group(1)))
        else:
            raise ValueError("Unknown argument")
    flags = 0
    if kwargs.get("ignorecase"):
        flags |= re.IGNORECASE
    if kwargs.get("multiline"):
        flags |= re.MULTILINE
    match = re.search(regex, value, flags)
    if not match:
        return None
    if not groups:
        return match.group()
    return [match.group(g) for g in groups]


def regex_findall(value: str, regex: str, multiline: bool = False,
                  ignorecase: bool = False) -> list[Any]:
    """``re.findall``."""
    flags = (re.MULTILINE if multiline else 0) | (re.IGNORECASE if ignorecase else 0)
    return re.findall(regex, value, flags)


def ternary(value: Any, true_val: Any, false_val: Any, none_val: Any = None) -> Any:
    """``true_val if value else false_val``; ``none_val`` for None when given."""
    if value is None and none_val is not None:
        return none_val
    return true_val if value else false_val


def shuffle(seq: Any, seed: Any = None) -> list[Any]:
    """A shuffled copy; repeatable when ``seed`` is given."""
    try:
        items = list(seq)
    except TypeError:
        return seq
    if seed:
        random.Random(seed).shuffle(items)
    else:
        random.shuffle(items)
    return items


def merge_strategic(data: Any) -> Any:
    """Recursively merge list items that are dicts sharing a ``name`` key."""
    if isinstance(data, list):
        items = [merge_strategic(item) for item in data]
        if all(isinstance(item, dict) and "name" in item for item in items):
            merged: dict[Any, dict] = {}
            for item in items:
                merged.setdefault(item["name"], {}).update(item)
            return list(merged.values())
        return items
    if isinstance(data, dict):
        return {key: merge_strategic(value) for key, value in data.items()}
    return data


def kapitan_filters(reveal_maybe: Callable[[str], str]) -> dict[str, Callable[..., Any]]:
    """Every Kapitan filter by name; ``reveal_maybe`` depends on ``--reveal``."""
    return {
        "sha256": sha256,
        "b64encode": b64encode,
        "b64decode": b64decode,
        "yaml": to_yaml,
        "toml": to_toml,
        "fileglob": fileglob,
        "bool": to_bool,
        "to_datetime": to_datetime,
        "strftime": strftime,
        "regex_replace": regex_replace,
        "regex_escape": regex_escape,
        "regex_search": regex_search,
        "regex_findall": regex_findall,
        "reveal_maybe": reveal_maybe,
        "ternary": ternary,
        "shuffle": shuffle,
        "merge_strategic": merge_strategic,
    }


def load_filter_file(path: str) -> dict[str, Callable[..., Any]]:
    """Every function defined in a custom filters file (``lib/jinja2_filters.py``)."""
    name = "kcompile_custom_filters_" + re.sub(r"\W", "_", os.path.splitext(path)[0])
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {
        attr: getattr(module, attr)
        for attr in dir(module)
        if isinstance(getattr(module, attr), types.FunctionType)
    }
