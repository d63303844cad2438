"""Where an object's schema comes from: the bundled Kubernetes schemas, CRDs, ``--schemas DIR``.

Every schema handed out is self-contained (the definitions it reaches are
copied under its own ``$defs``), so one validator can be built from it alone,
and its key (a digest of its text) names it in the content cache.

The bundled schemas are those of the ``kubernetes-validate`` package: one
directory per Kubernetes version, a strict one (unknown fields are errors)
and a lax one, each file named ``<kind>-<group>-<version>.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem, UserError

EXTRA_HINT = "kcompile validate needs the validate extra: pip install 'kapitan-lite[validate]'"
_DEFS_REF = re.compile(r"^(?:/api/_definitions\.json)?#/\$defs/(.+)$")
_VERSION_DIR = re.compile(r"^v(\d+)\.(\d+)\.\d+-local$")
# Fields every Kubernetes object may carry, whatever its CRD says of them.
_OBJECT_META = {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                "metadata": {"type": "object"}}


@dataclass(frozen=True)
class Schema:
    """A self-contained JSON schema and where it came from."""

    key: str  # sha256 of the schema's canonical JSON
    source: str  # "kubernetes 1.37", a CRD file, a --schemas file
    body: dict[str, Any]


def schema_of(body: dict[str, Any], source: str) -> Schema:
    """Wrap a self-contained schema, keyed by its content."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return Schema(hashlib.sha256(text.encode()).hexdigest(), source, body)


def bundled_root() -> str:
    """The directory of kubernetes-validate's schemas; a :class:`UserError` without the extra."""
    try:
        import kubernetes_validate
    except ImportError:
        raise UserError.of(EXTRA_HINT) from None
    return os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema")


def bundled_versions(root: str) -> list[tuple[int, int]]:
    """The Kubernetes versions bundled, oldest first, as (major, minor)."""
    found = []
    for name in os.listdir(root):
        m = _VERSION_DIR.match(name)
        if m:
            found.append((int(m.group(1)), int(m.group(2))))
    return sorted(found)


def parse_version(text: str) -> tuple[int, int] | None:
    """``1.30``, ``v1.30.2`` -> (1, 30); ``None`` if it is no version."""
    m = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", str(text).strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


def pick_version(wanted: tuple[int, int], versions: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The newest bundled version not newer than ``wanted`` (kubernetes-validate's rule)."""
    older = [v for v in versions if v <= wanted]
    return older[-1] if older else None


def file_key(api_version: str, kind: str) -> str:
    """The bundled file name of a kind: ``rbac.authorization.k8s.io/v1`` Role -> role-rbac-v1."""
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    return f"{kind.lower()}-{group_version}"


def _closure(node: Any, defs: dict[str, Any], out: dict[str, Any]) -> Any:
    """``node`` with its definition refs made local, copying the definitions it reaches to ``out``."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            m = _DEFS_REF.match(ref)
            if m:
                name = m.group(1)
                if name not in out:
                    out[name] = {}  # placeholder: definitions may reach themselves
                    out[name] = _closure(defs[name], defs, out)
                node = {**node, "$ref": f"#/$defs/{name}"}
        return {k: _closure(v, defs, out) for k, v in node.items()}
    if isinstance(node, list):
        return [_closure(v, defs, out) for v in node]
    return node


@dataclass
class Bundled:
    """The bundled schemas of one Kubernetes version, strict or not, read when first asked for."""

    root: str
    version: tuple[int, int]
    strict: bool
    _defs: dict[str, Any] | None = None
    _cache: dict[str, Schema | None] = field(default_factory=dict)

    @property
    def dir(self) -> str:
        major, minor = self.version
        return os.path.join(self.root, f"v{major}.{minor}.0-local{'-strict' if self.strict else ''}")

    def get(self, api_version: str, kind: str) -> Schema | None:
        """The schema of this kind, or ``None`` if the version has none."""
        name = file_key(api_version, kind)
        if name in self._cache:
            return self._cache[name]
        path = os.path.join(self.dir, f"{name}.json")
        schema = None
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as fp:
                top = json.load(fp)
            if self._defs is None:
                with open(os.path.join(self.dir, "_definitions.json"), encoding="utf-8") as fp:
                    self._defs = json.load(fp)["$defs"]
            reached: dict[str, Any] = {}
            body = _closure({k: v for k, v in top.items() if k not in ("$id", "$schema")},
                            self._defs, reached)
            body["$defs"] = dict(sorted(reached.items()))
            major, minor = self.version
            schema = schema_of(body, f"kubernetes {major}.{minor}")
        self._cache[name] = schema
        return schema


# -- CRDs and schemas of the user's own ----------------------------------------
def _from_openapi(node: Any, strict: bool) -> Any:
    """A CRD's ``openAPIV3Schema`` as plain JSON schema (Kubernetes' extensions applied)."""
    if isinstance(node, list):
        return [_from_openapi(v, strict) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties", "definitions", "$defs"):
            out[key] = {k: _from_openapi(v, strict) for k, v in value.items()} \
                if isinstance(value, dict) else value
        elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
            out[key] = _from_openapi(value, strict)
        elif key.startswith("x-kubernetes-") or key in ("nullable", "format", "description"):
            continue  # Kubernetes' own extensions, applied below
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if node.get("x-kubernetes-embedded-resource"):
        out.setdefault("properties", {}).update(
            {k: v for k, v in _OBJECT_META.items() if k not in out.get("properties", {})})
    open_ended = node.get("x-kubernetes-preserve-unknown-fields") or "additionalProperties" in node
    if strict and "properties" in out and not open_ended:
        out["additionalProperties"] = False
    return out


def crd_schemas(crd: dict[str, Any], source: str, strict: bool) -> dict[tuple[str, str], Schema]:
    """(apiVersion, kind) -> schema for each served version of a CustomResourceDefinition."""
    spec = crd.get("spec") or {}
    group = spec.get("group")
    kind = (spec.get("names") or {}).get("kind")
    out: dict[tuple[str, str], Schema] = {}
    if not isinstance(group, str) or not isinstance(kind, str):
        return out
    versions = spec.get("versions") or []
    if not versions and spec.get("version"):  # apiextensions v1beta1
        versions = [{"name": spec["version"], "schema": spec.get("validation")}]
    for v in versions:
        if not isinstance(v, dict) or not isinstance(v.get("name"), str):
            continue
        raw = ((v.get("schema") or spec.get("validation") or {}).get("openAPIV3Schema")) or {}
        body = _from_openapi(raw, strict)
        props = body.setdefault("properties", {})
        for name, sub in _OBJECT_META.items():
            props.setdefault(name, sub)
        if strict and not raw.get("x-kubernetes-preserve-unknown-fields"):
            body["additionalProperties"] = False
        body.setdefault("type", "object")
        out[(f"{group}/{v['name']}", kind)] = schema_of(body, source)
    return out


def is_crd(obj: Any) -> bool:
    """Whether a parsed object is a CustomResourceDefinition."""
    return (isinstance(obj, dict) and obj.get("kind") == "CustomResourceDefinition"
            and str(obj.get("apiVersion", "")).startswith("apiextensions.k8s.io/"))


def _json_schema_keys(path: str, body: dict[str, Any]) -> list[tuple[str, str] | str]:
    """The kinds a JSON schema file is for: its ``x-kubernetes-group-version-kind``, or its name."""
    keys: list[tuple[str, str] | str] = []
    for gvk in body.get("x-kubernetes-group-version-kind") or []:
        if isinstance(gvk, dict) and gvk.get("kind") and gvk.get("version"):
            api = f"{gvk['group']}/{gvk['version']}" if gvk.get("group") else gvk["version"]
            keys.append((api, gvk["kind"]))
    if not keys:
        keys.append(os.path.splitext(os.path.basename(path))[0].lower())
    return keys


def load_schema_dir(directory: str, strict: bool) -> tuple[dict[tuple[str, str] | str, Schema],
                                                            list[Problem]]:
    """Schemas from ``--schemas DIR``: CRD files (YAML or JSON) and JSON schemas.

    A JSON schema is for the kinds its ``x-kubernetes-group-version-kind``
    names or, failing that, for the kind its file name names, as the bundled
    ones are (``<kind>-<group>-<version>.json``). Returns the schemas and the
    problems of the files that could not be read.
    """
    from .documents import load_documents

    found: dict[tuple[str, str] | str, Schema] = {}
    problems: list[Problem] = []
    if not os.path.isdir(directory):
        raise UserError.of("--schemas: no such directory", path=directory)
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            if not name.endswith((".json", ".yml", ".yaml")):
                continue
            try:
                with open(path, "rb") as fp:
                    data = fp.read()
                docs = load_documents(data)
            except (OSError, ValueError) as exc:
                problems.append(Problem(path, getattr(exc, "line", 0), "",
                                        f"cannot read this schema: {exc}"))
                continue
            for doc in docs:
                if is_crd(doc.obj):
                    found.update(crd_schemas(doc.obj, path, strict))
                elif name.endswith(".json") and isinstance(doc.obj, dict):
                    body = {k: v for k, v in doc.obj.items() if k not in ("$id", "$schema")}
                    for key in _json_schema_keys(path, doc.obj):
                        found[key] = schema_of(body, path)
    return found, problems
