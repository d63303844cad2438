"""Custom jinja2 filters: every function defined here becomes a filter."""


def shout(value, suffix="!"):
    return str(value).upper() + suffix


def kv_join(mapping, sep="="):
    return ",".join(f"{k}{sep}{v}" for k, v in sorted(mapping.items()))
