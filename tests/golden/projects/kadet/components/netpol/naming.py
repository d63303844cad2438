def policy_name(prefix, source):
    return f"{prefix}-{source}"
