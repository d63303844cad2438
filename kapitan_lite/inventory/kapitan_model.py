"""Kapitan's view of ``parameters.kapitan``: defaults filled in, shape checked.

Kapitan validates the rendered parameters with pydantic models
(``kapitan/inventory/model``) and templates see the dumped model: every
compile item carries all its default fields, and ``kapitan`` gains
``dependencies``, ``labels``, ``secrets``, ``target_full_path`` and
``validate``. This module reproduces that dump with plain dicts, and returns
problems instead of raising on the first one.
"""

from __future__ import annotations

import copy
import os
from typing import Any

INPUT_TYPES = ("jsonnet", "jinja2", "helm", "kadet", "copy", "remove", "external",
               "kustomize", "cuelang")
OUTPUT_TYPES = ("json", "yaml", "yml", "plain", "toml", "auto")

# Field order follows Kapitan's models, so dumps and iteration match.
_BASE: dict[str, Any] = {
    "name": None,
    "input_type": None,
    "input_paths": None,  # required
    "output_path": None,  # required (except remove)
    "input_params": {},
    "continue_on_compile_error": False,
    "output_type": "yaml",
    "ignore_missing": False,
    "prune": True,
}
_PER_TYPE: dict[str, dict[str, Any]] = {
    "jsonnet": {"prune": False},
    "external": {"env_vars": {}, "args": []},
    "copy": {},
    "jinja2": {"output_type": "plain", "ignore_missing": True, "suffix_remove": False,
               "suffix_stripped": ".j2"},
    "helm": {"output_type": "auto", "prune": False, "helm_params": {}, "helm_values": {},
             "helm_values_files": [], "helm_path": None, "kube_version": None},
    "kadet": {"output_type": "yaml", "input_value": None, "prune": False},
    "remove": {},
    "kustomize": {"output_type": "yaml", "namespace": None, "prune": False, "patches": {},
                  "patches_strategic": {}, "patches_json": {}},
    "cuelang": {"output_type": "yaml", "input": None, "input_fill_path": None,
                "output_yield_path": None, "output_filename": "output.yaml"},
}
# Keys kcompile accepts beyond Kapitan's model (which rejects them): they are
# not defaults, so an item without them dumps as Kapitan's does.
_EXTENSION_KEYS: dict[str, tuple[str, ...]] = {"kustomize": ("kustomize_path",)}
_DEPENDENCY_FIELDS: dict[str, dict[str, Any]] = {
    "helm": {"chart_name": None, "version": None, "helm_path": None},
    "http": {"unpack": False},
    "https": {"unpack": False},
    "git": {"ref": None, "subdir": None, "submodules": False},
    "oci": {"subpath": None, "media_type": None, "insecure": False, "tls_verify": True},
}


_VAULT_COMMON: dict[str, Any] = {
    "addr": None, "skip_verify": True, "client_key": None, "client_cert": None, "cacert": None,
    "capath": None, "namespace": None, "engine": None, "auth": None, "crypto_key": None,
    "always_latest": False, "mount": None, "key": None,
}
# Each backend's fields with their defaults, as Kapitan's references model dumps
# them (the VAULT_* environment variables Kapitan's model also reads are not).
_SECRETS_FIELDS: dict[str, dict[str, Any]] = {
    "gpg": {"recipients": []},
    "awskms": {},
    "vaultkv": {**_VAULT_COMMON, "engine": "kv-v2", "mount": "secret"},
    "gkms": {},
    "vaulttransit": {**_VAULT_COMMON, "engine": "transit", "mount": "transit"},
    "azkms": {},
}


def _secrets(raw: Any) -> Any:
    """``parameters.kapitan.secrets`` with every backend key, as Kapitan's model dumps it."""
    if not isinstance(raw, dict):
        return raw
    out: dict[str, Any] = {}
    for name, defaults in _SECRETS_FIELDS.items():
        value = raw.get(name)
        out[name] = {**defaults, **value} if isinstance(value, dict) else value
    out.update({k: v for k, v in raw.items() if k not in out})
    return out


def item_defaults(input_type: str) -> dict[str, Any]:
    """All fields of a compile item of ``input_type`` with their defaults, in order."""
    fields = dict(_BASE)
    fields.update(_PER_TYPE[input_type])
    return fields


def normalise_item(raw: Any, where: str) -> tuple[dict[str, Any] | None, list[str]]:
    """A compile item with defaults filled in, or the problems that stop it."""
    if not isinstance(raw, dict):
        return None, [f"{where}: a compile item must be a mapping"]
    input_type = raw.get("input_type")
    if input_type not in INPUT_TYPES:
        return None, [f"{where}: unknown input_type {input_type!r} "
                      f"(expected one of {', '.join(INPUT_TYPES)})"]
    fields = item_defaults(input_type)
    problems = [f"{where}: unknown key {key!r} for input_type {input_type}"
                for key in raw
                if key not in fields and key not in _EXTENSION_KEYS.get(input_type, ())]
    for key in ("input_paths", "output_path"):
        if key not in raw and not (key == "output_path" and input_type == "remove"):
            problems.append(f"{where}: missing required key {key!r}")
    if "input_paths" in raw and not (isinstance(raw["input_paths"], list)
                                     and all(isinstance(p, str) for p in raw["input_paths"])):
        problems.append(f"{where}: input_paths must be a list of strings")
    out_path = raw.get("output_path")
    if out_path is not None and not isinstance(out_path, str):
        problems.append(f"{where}: output_path must be a string")
    elif out_path and (os.path.isabs(out_path)
                       or os.path.normpath(out_path).split(os.sep)[0] == ".."):
        problems.append(f"{where}: output_path {out_path!r} leaves the target's directory "
                        "(it must be a relative path inside it)")
    out_type = raw.get("output_type", fields["output_type"])
    if out_type is not None and out_type not in OUTPUT_TYPES:
        problems.append(f"{where}: unknown output_type {out_type!r} "
                        f"(expected one of {', '.join(OUTPUT_TYPES)})")
    if problems:
        return None, problems
    item = copy.deepcopy(fields)
    item.update({k: raw[k] for k in raw})
    if input_type == "helm":
        item["output_type"] = "auto"
    return item, []


def normalise_kapitan(params: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Parameters as Kapitan's model dumps them, plus problems with ``parameters.kapitan``."""
    problems: list[str] = []
    raw = params.get("kapitan")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        return params, ["parameters.kapitan must be a mapping"]
    kap: dict[str, Any] = {}
    items = []
    compile_list = raw.get("compile") or []
    if not isinstance(compile_list, list):
        problems.append("parameters.kapitan.compile must be a list")
        compile_list = []
    for i, entry in enumerate(compile_list):
        item, errs = normalise_item(entry, f"parameters.kapitan.compile[{i}]")
        problems.extend(errs)
        if item is not None:
            items.append(item)
    kap["compile"] = items
    vars_ = raw.get("vars") or {}
    if not isinstance(vars_, dict):
        problems.append("parameters.kapitan.vars must be a mapping")
        vars_ = {}
    kap["vars"] = {"target": vars_.get("target"), **{k: v for k, v in vars_.items()
                                                      if k != "target"}}
    labels = raw.get("labels") or {}
    if not isinstance(labels, dict):
        problems.append("parameters.kapitan.labels must be a mapping")
        labels = {}
    for key, value in labels.items():
        if not isinstance(value, str):
            problems.append(f"parameters.kapitan.labels.{key} must be a string, got {value!r}")
    kap["labels"] = labels
    deps = raw.get("dependencies", [])
    kap["dependencies"] = _dependencies(deps, problems) if deps is not None else None
    # Kapitan fills this in only after templates and `kapitan inventory` have
    # taken their copy of the inventory, so both see it empty.
    kap["target_full_path"] = raw.get("target_full_path", "")
    kap["secrets"] = _secrets(raw.get("secrets"))
    kap["validate"] = raw.get("validate") or []
    for key, value in raw.items():
        if key not in kap:
            kap[key] = value
    out = {"kapitan": kap, "_kapitan_": params.get("_kapitan_"),
           "_reclass_": _metadata(params.get("_reclass_"))}
    for key, value in params.items():
        if key not in out:
            out[key] = value
    return out, problems


def _metadata(meta: Any) -> Any:
    """``_reclass_`` in the model's field order: ``name`` (short, full, path, parts) first."""
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), dict):
        return meta
    name = meta["name"]
    ordered = {k: name[k] for k in ("short", "full", "path", "parts") if k in name}
    ordered.update({k: v for k, v in name.items() if k not in ordered})
    return {"name": ordered, **{k: v for k, v in meta.items() if k != "name"}}


def _dependencies(deps: Any, problems: list[str]) -> list[dict[str, Any]]:
    if not isinstance(deps, list):
        problems.append("parameters.kapitan.dependencies must be a list")
        return []
    out = []
    for i, dep in enumerate(deps):
        where = f"parameters.kapitan.dependencies[{i}]"
        if not isinstance(dep, dict) or dep.get("type") not in _DEPENDENCY_FIELDS:
            problems.append(f"{where}: unknown dependency type "
                            f"{dep.get('type') if isinstance(dep, dict) else dep!r}")
            continue
        fields = {"type": None, "source": None, "output_path": None, "force_fetch": False}
        fields.update(_DEPENDENCY_FIELDS[dep["type"]])
        unknown = [k for k in dep if k not in fields]
        if unknown:
            problems.append(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}")
            continue
        fields.update(dep)
        out.append(fields)
    return out
