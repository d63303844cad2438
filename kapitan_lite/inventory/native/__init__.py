"""kapitan-lite's own inventory engine: class loading, merging, interpolation, queries and provenance."""
