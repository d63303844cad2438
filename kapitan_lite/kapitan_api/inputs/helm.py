"""``kapitan.inputs.helm``: ``HelmChart``, a chart rendered by the helm binary as kadet objects.

``HelmChart(chart_dir=..., helm_params={...}, helm_values={...},
helm_path=None)`` runs ``helm template`` with the flags the ``helm`` input
type uses (``--include-crds --skip-tests``, each ``helm_params`` key as a
flag, ``name`` as the release name, else ``--generate-name``), with
``helm_values`` as a values file. As in Kapitan, a flag one HelmChart sets
stays set for the later ones (of the same component run, here). Its ``root`` holds one ``BaseObj`` per
rendered object, keyed ``<metadata.name>-<kind>`` in lower case, as in
Kapitan. Subclasses override ``new()`` and call ``load_chart()``, which
returns the rendered objects as dicts.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from ...inputs.helm import (
    DEFAULT_FLAGS,
    helm_arguments,
    helm_binary,
    load_rendered,
    run_helm,
    write_values,
)
from ..errors import HelmTemplateError
from ..run import active
from .kadet import BaseModel, BaseObj

__all__ = ["HELM_DEFAULT_FLAGS", "HelmChart"]

HELM_DEFAULT_FLAGS = dict(DEFAULT_FLAGS)


def _params_of_run(helm_params: dict[str, Any]) -> dict[str, Any]:
    """``helm_params`` on top of the flags earlier HelmCharts of this run set.

    Kapitan adds each chart's flags to one dict that every later HelmChart of
    the worker process starts from; here they carry over within the
    component run only, never to another target.
    """
    params = dict(helm_params or {})
    own = {k: params.pop(k) for k in ("name", "output_file") if k in params}
    run = active()
    if run is None:
        return {**params, **own}
    earlier = run.remember("helm.flags", dict)
    earlier.update(params)
    return {**earlier, **own}


def _render(chart_dir: str, helm_path: str | None, helm_params: dict[str, Any],
                 helm_values: dict[str, Any]) -> str:
    """``helm template`` of ``chart_dir``: its whole output, or ``HelmTemplateError``."""
    item = {"helm_params": _params_of_run(helm_params), "helm_path": helm_path}
    with tempfile.TemporaryDirectory(prefix="kcompile-helmchart-") as tmp:
        values_file = write_values(helm_values, tmp) if helm_values else None
        out = os.path.join(tmp, "out.yaml")
        try:
            args, _ = helm_arguments(item, chart_dir, None, values_file)
            run_helm(helm_binary(item), args, out)
        except (ValueError, RuntimeError) as exc:
            raise HelmTemplateError(str(exc)) from exc
        with open(out, encoding="utf-8") as fp:
            return fp.read()


class HelmChart(BaseModel):
    """A helm chart rendered into ``root``, one ``BaseObj`` per object."""

    chart_dir: str
    helm_params: dict = {}  # noqa: RUF012 (pydantic copies field defaults)
    helm_values: dict = {}  # noqa: RUF012
    helm_path: str | None = None

    def new(self) -> None:
        """Fill ``root`` with the rendered objects."""
        for obj in self.load_chart():
            key = f"{obj['metadata']['name'].lower()}-{obj['kind'].lower().replace(':', '-')}"
            self.root[key] = BaseObj.from_dict(obj)

    def load_chart(self) -> list[Any]:
        """The chart's rendered objects (empty documents dropped)."""
        text = _render(self.chart_dir, self.helm_path, self.helm_params, self.helm_values)
        return load_rendered(text)
