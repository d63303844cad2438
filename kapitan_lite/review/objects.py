"""Documents in compiled files, their identities, and field-by-field differences.

A YAML or JSON file is read as documents, so key order, indentation and
quoting do not count. A Kubernetes-style document is known by
``(apiVersion, kind, namespace, name)``; any other document by its file and
position. Two versions of a document compare field by field, each change with
a path such as ``spec.template.spec.containers[name=web].image``.

Ref tags (``?{base64:path:hash8}``) are not secret, but a change that only
touches one means the secret behind it changed: it is reported as such,
without values. Values under a Kubernetes Secret's ``data`` or
``stringData`` are never shown either.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..refs.tags import TAG_RE

try:  # libyaml when present: same result, faster
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

STRUCTURED = (".yml", ".yaml", ".json")
VALUE_WIDTH = 80  # a shown value is cut to this many characters
SECRET_KINDS = frozenset({"Secret"})
SECRET_FIELDS = frozenset({"data", "stringData"})
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True, order=True)
class ObjectId:
    """Who a document is: its Kubernetes identity, or its file and position."""

    api_version: str = ""
    kind: str = ""
    namespace: str = ""
    name: str = ""
    file: str = ""  # only for documents without a Kubernetes identity
    index: int = 0

    @property
    def is_k8s(self) -> bool:
        """Whether the document has a kind and a name."""
        return not self.file

    def label(self) -> str:
        """``Kind namespace/name``, or ``file#index`` for other documents."""
        if self.is_k8s:
            where = f"{self.namespace}/{self.name}" if self.namespace else self.name
            return f"{self.kind} {where}"
        return f"{self.file}#{self.index}" if self.index else self.file

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        if self.is_k8s:
            return {"apiVersion": self.api_version, "kind": self.kind,
                    "namespace": self.namespace, "name": self.name}
        return {"file": self.file, "index": self.index}


@dataclass(frozen=True)
class Document:
    """One parsed document of a file."""

    id: ObjectId
    body: Any
    file: str  # the file it was read from, relative to its target dir


def k8s_identity(body: Any) -> ObjectId | None:
    """The ``(apiVersion, kind, namespace, name)`` of a Kubernetes-style document."""
    if not isinstance(body, dict):
        return None
    meta = body.get("metadata")
    kind = body.get("kind")
    if not isinstance(meta, dict) or not isinstance(kind, str) or "name" not in meta:
        return None
    return ObjectId(str(body.get("apiVersion") or ""), kind,
                    str(meta.get("namespace") or ""), str(meta["name"]))


def parse_documents(path: str, data: bytes) -> list[Any] | None:
    """The documents of a YAML or JSON file, or ``None`` when it is not one (or is broken)."""
    if not path.endswith(STRUCTURED):
        return None
    try:
        text = data.decode("utf-8")
        if path.endswith(".json"):
            return [json.loads(text)]
        return [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except (UnicodeDecodeError, ValueError, yaml.YAMLError):
        return None


def documents(file: str, bodies: list[Any]) -> list[Document]:
    """Give each parsed document of ``file`` its identity."""
    out = []
    for index, body in enumerate(bodies):
        oid = k8s_identity(body) or ObjectId(file=file, index=index)
        out.append(Document(oid, body, file))
    return out


# -- field differences ------------------------------------------------------

@dataclass
class FieldChange:
    """One changed field: ``op`` is changed, added, removed, reordered or secret."""

    path: str
    op: str
    old: Any = None
    new: Any = None
    text: list[str] = field(default_factory=list)  # line diff of a multi-line string

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form; a secret change carries no value."""
        out: dict[str, Any] = {"path": self.path, "op": self.op}
        if self.op in ("changed", "removed"):
            out["old"] = self.old
        if self.op in ("changed", "added"):
            out["new"] = self.new
        if self.text:
            out["text_diff"] = self.text
        return out


def mask_tags(text: str) -> str:
    """``text`` with every ref tag replaced by the same placeholder."""
    return TAG_RE.sub("?{ref}", text)


def only_tags_differ(old: str, new: str) -> bool:
    """Whether two texts differ, but only inside ref tags: the secret changed."""
    return old != new and "?{" in old + new and mask_tags(old) == mask_tags(new)


def show(value: Any, width: int = VALUE_WIDTH) -> str:
    """A value on one line, cut to ``width`` characters."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def _key(key: Any) -> str:
    text = str(key)
    return f".{text}" if _PLAIN_KEY.match(text) else f"[{json.dumps(text)}]"


def _join(path: str, key: Any) -> str:
    part = _key(key)
    return part[1:] if not path and part.startswith(".") else path + part


def _names(items: list[Any]) -> list[Any] | None:
    """The ``name`` of each item when every item is a mapping with a unique scalar name."""
    names = []
    for item in items:
        if not isinstance(item, dict) or isinstance(item.get("name"), (dict, list, type(None))):
            return None
        names.append(item["name"])
    return names if len(set(map(str, names))) == len(names) else None


def _text_lines(old: str, new: str) -> list[str]:
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=1)
    return [line for line in diff if not line.startswith(("---", "+++"))]


class FieldDiffer:
    """Compares two versions of one document, field by field."""

    def __init__(self, secret: bool = False):
        # A Kubernetes Secret: the values below its data and stringData are withheld.
        self.secret = secret
        self.changes: list[FieldChange] = []

    def diff(self, old: Any, new: Any) -> list[FieldChange]:
        """Every change from ``old`` to ``new``."""
        self._walk(old, new, "", False)
        return self.changes

    def _walk(self, old: Any, new: Any, path: str, secret: bool) -> None:
        if old == new and type(old) is type(new):
            return
        if isinstance(old, dict) and isinstance(new, dict):
            for key in sorted(set(old) | set(new), key=str):
                sub = _join(path, key)
                hidden = secret or (self.secret and not path and key in SECRET_FIELDS)
                if key not in new:
                    self._add(FieldChange(sub, "removed", old=old[key]), hidden)
                elif key not in old:
                    self._add(FieldChange(sub, "added", new=new[key]), hidden)
                else:
                    self._walk(old[key], new[key], sub, hidden)
        elif isinstance(old, list) and isinstance(new, list):
            self._list(old, new, path, secret)
        elif isinstance(old, str) and isinstance(new, str) and only_tags_differ(old, new):
            self.changes.append(FieldChange(path, "secret"))
        else:
            change = FieldChange(path, "changed", old=old, new=new)
            if isinstance(old, str) and isinstance(new, str) and "\n" in old + new:
                change.text = _text_lines(old, new)
            self._add(change, secret)

    def _add(self, change: FieldChange, secret: bool) -> None:
        if secret:
            change = FieldChange(change.path, "secret")
        self.changes.append(change)

    def _list(self, old: list[Any], new: list[Any], path: str, secret: bool) -> None:
        old_names, new_names = _names(old), _names(new)
        if old_names is not None and new_names is not None:
            by_old = dict(zip(map(str, old_names), old, strict=True))
            by_new = dict(zip(map(str, new_names), new, strict=True))
            for name in by_old:
                if name not in by_new:
                    self._add(FieldChange(f"{path}[name={name}]", "removed", old=by_old[name]), secret)
            for name in by_new:
                sub = f"{path}[name={name}]"
                if name not in by_old:
                    self._add(FieldChange(sub, "added", new=by_new[name]), secret)
                else:
                    self._walk(by_old[name], by_new[name], sub, secret)
            common_old = [n for n in map(str, old_names) if n in by_new]
            common_new = [n for n in map(str, new_names) if n in by_old]
            if common_old != common_new:
                self.changes.append(FieldChange(path, "reordered",
                                                old=common_old, new=common_new))
            return
        # Align the items, so one insertion is not reported as every later item changing.
        keys_old = [show(v, 10_000) for v in old]
        keys_new = [show(v, 10_000) for v in new]
        matcher = difflib.SequenceMatcher(a=keys_old, b=keys_new, autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                continue
            if op == "replace" and i2 - i1 == j2 - j1:
                for k in range(i2 - i1):
                    self._walk(old[i1 + k], new[j1 + k], f"{path}[{j1 + k}]", secret)
                continue
            for i in range(i1, i2):
                self._add(FieldChange(f"{path}[{i}]", "removed", old=old[i]), secret)
            for j in range(j1, j2):
                self._add(FieldChange(f"{path}[{j}]", "added", new=new[j]), secret)


def diff_documents(old: Any, new: Any, oid: ObjectId | None = None) -> list[FieldChange]:
    """The field changes from ``old`` to ``new`` (values withheld for Secret data)."""
    secret = oid is not None and oid.kind in SECRET_KINDS
    return FieldDiffer(secret=secret).diff(old, new)
