"""Dependency fetch: bring what the inventory declares (git, http, helm, oci) into the project.

One module per dependency type (``git``, ``http``, ``helm``, ``oci``), each a
:class:`~kapitan_lite.fetch.base.Fetcher`; ``cache`` is the persistent,
content-addressed store they download into; ``lock`` reads and writes
``kcompile.lock``; ``unpack`` extracts archives safely.
"""
