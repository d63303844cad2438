def full_name(target, replicas):
    return f"app-{target}-r{replicas}"
