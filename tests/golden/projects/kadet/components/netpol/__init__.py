from kapitan.inputs import kadet

from .naming import policy_name

k8s = kadet.load_from_search_paths("k8s")
inv = kadet.inventory()


def main(input_params):
    prefix = input_params["policy_prefix"]
    out = {}
    sources = list(inv.parameters.netpol.allow_from) or ["same-namespace"]
    for src in sources:
        out[policy_name(prefix, src)] = k8s.NetworkPolicy(
            name=policy_name(prefix, src), ports=inv.parameters.netpol.ports, sources=[src])
    # the other target, read through inventory_global
    other = "db" if inv.parameters.target_name == "web" else "web"
    out["peers"] = {"other": other,
                    "other_ports": list(kadet.inventory_global()[other].parameters.netpol.ports)}
    return out
