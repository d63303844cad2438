"""``input_type: kustomize``: build a kustomization with the ``kustomize`` binary, as Kapitan does.

The item's input path is a kustomization directory. A generated
kustomization in a temp dir takes it as its one resource (through a symlink
named after it, so an overlay that reaches ``../base`` still resolves) and
adds the item's ``namespace`` (else the input's own) and patches:

- ``patches``: Kapitan's, ``{name: {target: {...}, patch: ...}}``, each
  patch written to ``<name>.yaml`` and listed with its target selector;
- ``patches_strategic``: ``{name: <strategic merge patch>}``, a partial
  object that names its target by ``apiVersion``/``kind``/``metadata``
  (or ``{name: {patch: ..., target: {...}}}``, the target optional);
- ``patches_json``: ``{name: {target: {...}, patch: [<RFC 6902 op>, ...]}}``.

All three go into kustomize's ``patches:`` list, in that order. Kapitan
declares the last two but ignores them. ``kustomize build <dir>`` renders
it: the binary is the item's ``kustomize_path``, else ``kustomize`` from
PATH, else ``kubectl kustomize``. Each document of the result is written to
``<name>-<kind>.yaml`` (both lower-cased) with PyYAML's default dump, as
Kapitan writes it: no ref-tag processing, no ``output_type``, no ``prune``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from typing import Any

import yaml

from ..lifetime import child_dies_with_us
from .base import InputError, TargetEnv, require_directory

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# kubectl reports through klog: `E1201 23:28:23.337203 22166 run.go:72] "command failed" err="..."`.
_KLOG = re.compile(r'^[EFWI]\d{4} [\d:.]+\s+\d+ \S+\] "command failed" err="(.*)"$')


def kustomize_command(item: dict[str, Any]) -> list[str]:
    """The command that builds a directory: ``kustomize build``, else ``kubectl kustomize``.

    Raises :class:`RuntimeError` when neither binary can be found.
    """
    explicit = item.get("kustomize_path")
    if explicit:
        return [str(explicit), "build"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    raise RuntimeError("neither kustomize nor kubectl is on PATH: install one, "
                       "or set kustomize_path in the item")


def first_error_line(stderr: str) -> str:
    """kustomize's own first line of error, without kubectl's log prefix or warnings."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("# Warning") or line.startswith("Warning:"):
            continue
        match = _KLOG.match(line)
        if match:
            return match.group(1).replace('\\"', '"').replace("\\\\", "\\")
        return line.removeprefix("Error: ").removeprefix("error: ")
    return lines[0] if lines else ""


def _patch_entries(item: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(file name, patch, target or None)`` for every patch of the item, in order.

    Raises :class:`ValueError` for a malformed entry.
    """
    out: list[tuple[str, Any, Any]] = []
    for key, prefix, needs_target in (("patches", "", True), ("patches_strategic", "strategic-", False),
                                      ("patches_json", "json-", True)):
        patches = item.get(key) or {}
        if not isinstance(patches, dict):
            raise ValueError(f"{key} must be a mapping of patch names to patches")
        for name, entry in patches.items():
            name = str(name)
            file_name = f"{prefix}{name}.yaml"
            if not name or "/" in name or name.startswith("."):
                raise ValueError(f"{key}: patch name {name!r} must be a plain file name")
            if file_name == "kustomization.yaml" or any(f == file_name for f, _, _ in out):
                raise ValueError(f"{key}.{name}: its patch file {file_name} is taken "
                                 "(by the kustomization or another patch): rename the patch")
            if not needs_target:
                if not isinstance(entry, dict):
                    raise ValueError(f"{key}.{name}: a strategic merge patch is a mapping "
                                     "(a partial object with apiVersion, kind and metadata.name)")
                if "patch" in entry and set(entry) <= {"patch", "target"}:
                    # Kapitan's {target, patch} shape: the target selector is optional here.
                    out.append((file_name, entry["patch"], entry.get("target")))
                else:
                    out.append((file_name, entry, None))
                continue
            if not isinstance(entry, dict) or "patch" not in entry or "target" not in entry:
                hint = " (a patch without a target goes in patches_strategic)" if key == "patches" else ""
                raise ValueError(f"{key}.{name}: needs 'target' and 'patch'{hint}")
            if not isinstance(entry["target"], dict):
                raise ValueError(f"{key}.{name}: target must be a mapping (kind, name, ...)")
            if key == "patches_json" and not isinstance(entry["patch"], list):
                raise ValueError(f"{key}.{name}: patch must be a list of JSON patch operations "
                                 "(op, path, value)")
            out.append((file_name, entry["patch"], entry["target"]))
    return out


def _own_namespace(input_path: str) -> str:
    """The ``namespace`` of the input's own ``kustomization.yaml``, as Kapitan reads it."""
    path = os.path.join(input_path, "kustomization.yaml")
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8") as fp:
        try:
            data = yaml.safe_load(fp) or {}
        except yaml.YAMLError:
            return ""  # kustomize reports it, with its own location
    return data.get("namespace", "") if isinstance(data, dict) else ""


def write_kustomization(item: dict[str, Any], input_path: str, directory: str) -> None:
    """The generated kustomization (and its patch files) in ``directory``, as Kapitan writes it."""
    resource = os.path.basename(os.path.abspath(input_path))
    os.symlink(os.path.abspath(input_path), os.path.join(directory, resource))
    kustomization: dict[str, Any] = {
        "resources": [resource],
        "namespace": item.get("namespace") or _own_namespace(input_path),
    }
    entries = _patch_entries(item)
    if entries:
        kustomization["patches"] = []
    for file_name, patch, target in entries:
        with open(os.path.join(directory, file_name), "w", encoding="utf-8") as fp:
            yaml.safe_dump(patch, fp, default_flow_style=False)
        kustomization["patches"].append({"path": file_name} if target is None
                                        else {"path": file_name, "target": target})
    with open(os.path.join(directory, "kustomization.yaml"), "w", encoding="utf-8") as fp:
        yaml.safe_dump(kustomization, fp, default_flow_style=False)


def run_kustomize(command: list[str], directory: str) -> str:
    """kustomize's output for ``directory``; :class:`RuntimeError` with its first error line."""
    try:
        proc = subprocess.run([*command, directory], capture_output=True, check=False,
                              preexec_fn=child_dies_with_us())
    except FileNotFoundError:
        raise RuntimeError(f"kustomize binary {command[0]!r} not found") from None
    except PermissionError:
        raise RuntimeError(f"kustomize binary {command[0]!r} is not executable") from None
    if proc.returncode != 0:
        detail = first_error_line(proc.stderr.decode(errors="replace"))
        raise RuntimeError(f"{' '.join(command)} exited with {proc.returncode}"
                           + (f": {detail}" if detail else ""))
    return proc.stdout.decode()


def document_files(docs: list[Any]) -> dict[str, Any]:
    """``{file name: document}``: Kapitan's ``<name>-<kind>.yaml`` for each document.

    Kapitan lets a later document overwrite an earlier one of the same name
    and kind (two namespaces' ``Role``s, say): here both are kept, each named
    ``<name>-<kind>-<namespace>.yaml``.
    """
    def base(doc: dict[str, Any]) -> str:
        kind = str(doc.get("kind") or "").lower()
        name = str((doc.get("metadata") or {}).get("name") or "").lower()
        return f"{name}-{kind}" if name and kind else "output"

    docs = [d for d in docs if d]
    bases = [base(d) if isinstance(d, dict) else "output" for d in docs]
    out: dict[str, Any] = {}
    for doc, stem in zip(docs, bases, strict=True):
        if bases.count(stem) > 1 and isinstance(doc, dict):
            namespace = str((doc.get("metadata") or {}).get("namespace") or "").lower()
            stem = f"{stem}-{namespace}" if namespace else stem
        file_name = f"{stem}.yaml"
        if file_name in out:
            raise ValueError(f"two documents of the build would both be written to {file_name}")
        out[file_name] = doc
    return out


class KustomizeInput:
    """Builds kustomizations with the kustomize binary (or kubectl)."""

    # Targets using this type are always compiled (never taken from the cache):
    # the output depends on the binary and on everything the kustomization reads.
    tracks_deps = False

    def compile(self, item: dict[str, Any], input_path: str, out_dir: str, env: TargetEnv) -> None:
        """Build the kustomization in ``input_path``; write one file per document in ``out_dir``."""
        ref = require_directory(item, input_path, "kustomize")
        what = f"kustomize {os.path.normpath(input_path)}"  # names the item in every message
        if not any(os.path.exists(os.path.join(input_path, n)) for n in KUSTOMIZATION_NAMES):
            raise InputError(f"{what}: holds no kustomization.yaml", ref=ref)
        try:
            command = kustomize_command(item)
            with tempfile.TemporaryDirectory(prefix="kcompile-kustomize-") as tmp:
                write_kustomization(item, input_path, tmp)
                rendered = run_kustomize(command, tmp)
            files = document_files(list(yaml.safe_load_all(rendered)))
        except (ValueError, RuntimeError) as exc:
            raise InputError(f"{what}: {exc}", ref=ref) from exc
        except yaml.YAMLError as exc:
            raise InputError(f"{what}: the build is not valid YAML: {exc}", ref=ref) from exc
        for file_name, doc in files.items():
            with open(os.path.join(out_dir, file_name), "w", encoding="utf-8") as fp:
                yaml.safe_dump(doc, fp, default_flow_style=False)
