"""``from kapitan_lite import kadet``: the kadet API, the same module as ``kapitan.inputs.kadet``.

It lives in :mod:`kapitan_lite.kapitan_api.inputs.kadet`, with the rest of
Kapitan's Python API; this name stays importable for components that use it.
"""

import sys

from .kapitan_api.inputs import kadet as _kadet

sys.modules[__name__] = _kadet
