"""``input_type: helm``: render a chart with the ``helm`` binary, as Kapitan does.

Runs ``helm template [flags] --values <helm_values> --values <file>...
--output-dir <tmp> <name | --generate-name> <chart>`` with Kapitan's flag
mapping: defaults ``--include-crds --skip-tests``; ``kube_version`` is passed
as ``--api-versions`` (as Kapitan does); each ``helm_params`` key
``a_b: value`` becomes ``--a-b value``, a true boolean a bare flag and a
false one nothing; ``name`` is the release name and ``output_file`` sends
the whole render to one file. The binary is ``helm_path``, else
``$KAPITAN_HELM_PATH``, else ``helm`` from PATH; the timeout is
``$KAPITAN_HELM_TIMEOUT`` seconds (30).

Every rendered file keeps helm's layout (``<chart>/templates/x.yaml``) and is
re-written as a YAML stream of its non-empty documents, through the same
serialiser and ref-tag handling as other generators (output type ``auto``).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from typing import Any

import yaml

from ..lifetime import child_dies_with_us
from .base import InputError, TargetEnv
from .objects import write_objects

DEFAULT_FLAGS: dict[str, Any] = {"--include-crds": True, "--skip-tests": True}
DENIED_FLAGS = ("dry-run", "generate-name", "help", "output-dir", "show-only")
DEFAULT_TIMEOUT = 30


class _ValuesDumper(yaml.SafeDumper):
    """Quotes digit strings that helm's Go YAML would read as numbers (``0123``, ``1234567``)."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    numeric = len(data) > 1 and data.isdigit() and (data[0] == "0" or len(data) > 6)
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="'" if numeric else None)


_ValuesDumper.add_representer(str, _represent_str)


class _RenderedLoader(yaml.SafeLoader):
    """Reads a bare ``=`` (``tag:yaml.org,2002:value``, which some charts emit) as a string, as Kapitan does."""


_RenderedLoader.add_constructor("tag:yaml.org,2002:value",
                                lambda loader, node: loader.construct_scalar(node))


def load_rendered(stream: Any) -> list[Any]:
    """The non-empty YAML documents helm rendered."""
    return [d for d in yaml.load_all(stream, Loader=_RenderedLoader) if d is not None]


def write_values(values: dict[str, Any], directory: str) -> str:
    """Write helm values to ``directory/values.yml`` as Kapitan does; return its path."""
    path = os.path.join(directory, "values.yml")
    with open(path, "w", encoding="utf-8") as fp:
        yaml.dump(values, fp, Dumper=_ValuesDumper)
    return path


def helm_arguments(item: dict[str, Any], chart_dir: str, output_dir: str | None,
                   values_file: str | None) -> tuple[list[str], str | None]:
    """``helm`` arguments for an item, and the ``output_file`` it asks for (or None).

    With ``output_dir`` None, helm writes the whole render to its stdout.

    Raises :class:`ValueError` for a ``helm_params`` key Kapitan refuses.
    """
    params = dict(item.get("helm_params") or {})
    name = params.pop("name", None)
    output_file = params.pop("output_file", None)
    flags = dict(DEFAULT_FLAGS)
    if item.get("kube_version"):
        flags["--api-versions"] = item["kube_version"]
    for param, value in params.items():
        if len(param) == 1:
            raise ValueError(f"helm_params {param}: only long flag names are supported")
        if "-" in param:
            raise ValueError(f"helm_params {param}: flag names use '_', not '-'")
        flag = param.replace("_", "-")
        if flag in ("set", "set-file", "set-string"):
            raise ValueError(f"helm_params {param}: not supported, use helm_values")
        if flag == "values":
            raise ValueError(f"helm_params {param}: not supported, use helm_values_files")
        if flag in DENIED_FLAGS:
            raise ValueError(f"helm_params {param}: not supported")
        flags[f"--{flag}"] = value
    release_name = flags.get("--release-name")
    if release_name is not None and not isinstance(release_name, bool):
        del flags["--release-name"]  # deprecated spelling of name
        name = name or release_name
    args = ["template"]
    for flag, value in flags.items():
        if isinstance(value, bool):
            if value:
                args.append(flag)
        else:
            args += [flag, str(value)]
    if values_file:
        args += ["--values", values_file]
    for path in item.get("helm_values_files") or []:
        args += ["--values", str(path)]
    if not output_file and output_dir is not None:
        args += ["--output-dir", output_dir]
    args.append(str(name) if name else "--generate-name")
    args.append(chart_dir)
    return args, output_file


def helm_binary(item: dict[str, Any]) -> str:
    """The helm executable: the item's ``helm_path``, ``$KAPITAN_HELM_PATH``, or ``helm``."""
    return item.get("helm_path") or os.environ.get("KAPITAN_HELM_PATH") or "helm"


def run_helm(binary: str, args: list[str], stdout_path: str | None) -> None:
    """Run helm; raise :class:`RuntimeError` with a one-line reason when it fails."""
    timeout = int(os.environ.get("KAPITAN_HELM_TIMEOUT", DEFAULT_TIMEOUT))
    try:
        with open(stdout_path, "wb") if stdout_path else open(os.devnull, "wb") as out:
            proc = subprocess.run([binary, *args], stdout=out, stderr=subprocess.PIPE,
                                  timeout=timeout, check=False,
                                  preexec_fn=child_dies_with_us())
    except FileNotFoundError:
        raise RuntimeError(f"helm binary {binary!r} not found: install helm and put it on "
                           "PATH, or set helm_path in the item or KAPITAN_HELM_PATH") from None
    except PermissionError:
        raise RuntimeError(f"helm binary {binary!r} is not executable") from None
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"helm timed out after {timeout}s (set KAPITAN_HELM_TIMEOUT to "
                           "wait longer)") from None
    if proc.returncode != 0:
        stderr = " | ".join(line.strip() for line in proc.stderr.decode(errors="replace")
                            .splitlines() if line.strip())
        raise RuntimeError(f"helm template exited with {proc.returncode}: {stderr}")


class HelmInput:
    """Renders helm charts with the helm binary."""

    # Targets using this type are always compiled (never taken from the cache):
    # the output depends on the helm binary and the whole chart.
    tracks_deps = False

    def compile(self, item: dict[str, Any], input_path: str, out_dir: str, env: TargetEnv) -> None:
        """Render the chart in ``input_path`` and write its files below ``out_dir``."""
        ref = item["input_paths"][0] if item.get("input_paths") else ""
        with tempfile.TemporaryDirectory(prefix="kcompile-helm-") as tmp:
            values_file = write_values(item["helm_values"], tmp) if item.get("helm_values") else None
            rendered = os.path.join(tmp, "out")
            os.makedirs(rendered)
            try:
                args, output_file = helm_arguments(item, input_path, rendered, values_file)
                run_helm(helm_binary(item), args,
                         os.path.join(rendered, output_file) if output_file else None)
            except (ValueError, RuntimeError) as exc:
                raise InputError(str(exc), ref=ref) from exc
            objects = {}
            for root, dirs, files in os.walk(rendered):
                dirs.sort()
                for name in sorted(files):
                    path = os.path.join(root, name)
                    with open(path, encoding="utf-8") as fp:
                        try:
                            docs = load_rendered(fp)
                        except yaml.YAMLError as exc:
                            raise InputError(f"helm rendered invalid YAML in "
                                             f"{os.path.relpath(path, rendered)}: {exc}",
                                             ref=ref) from exc
                    objects[os.path.relpath(path, rendered)] = docs
        write_objects(objects, {**item, "output_type": "auto"}, out_dir, env, source=input_path)
