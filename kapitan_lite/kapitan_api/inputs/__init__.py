"""``kapitan.inputs``: the input-type modules kadet code imports (``kadet``, ``helm``)."""
