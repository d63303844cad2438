"""NetworkPolicies for the shop namespace: deny by default, then allow each known flow.

A kadet component: written for Kapitan, it runs unchanged under kcompile.
Each key of the mapping main() returns becomes compiled/<target>/manifests/netpol/<key>.yml.
"""

from kapitan.inputs import kadet

from .policy import NetworkPolicy


def main(input_params):
    inv = kadet.inventory()
    p = inv.parameters
    labels = dict(p.common_labels)
    namespace = p.namespace
    app = p.webapp.name
    flows = p.netpol.flows

    policies = {
        "default-deny": NetworkPolicy(name="default-deny", namespace=namespace, labels=labels,
                                      pod_selector={}, policy_types=["Ingress", "Egress"]),
        "allow-dns": NetworkPolicy(
            name="allow-dns", namespace=namespace, labels=labels, pod_selector={},
            policy_types=["Egress"],
            egress=[{"to": [{"namespaceSelector": {}}],
                     "ports": [{"port": 53, "protocol": "UDP"},
                               {"port": 53, "protocol": "TCP"}]}]),
        f"allow-ingress-to-{app}": NetworkPolicy(
            name=f"allow-ingress-to-{app}", namespace=namespace, labels=labels,
            pod_selector={"app.kubernetes.io/name": app}, policy_types=["Ingress"],
            ingress=[{"from": [_namespace(flows.ingress_namespace)],
                      "ports": [{"port": p.webapp.port, "protocol": "TCP"}]}]),
        f"allow-{app}-to-{p.postgres.name}": NetworkPolicy(
            name=f"allow-{app}-to-{p.postgres.name}", namespace=namespace, labels=labels,
            pod_selector={"app.kubernetes.io/name": p.postgres.name}, policy_types=["Ingress"],
            ingress=[{"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": app}}}],
                      "ports": [{"port": p.postgres.port, "protocol": "TCP"}]}]),
    }
    # Prometheus scrapes the metrics ports, on clusters that run monitoring.
    if "components.monitoring" in inv.classes:
        ports = [{"port": p.webapp.metrics_port, "protocol": "TCP"}]
        if p.postgres.exporter.enabled:
            ports.append({"port": p.postgres.exporter.port, "protocol": "TCP"})
        policies["allow-prometheus-scrape"] = NetworkPolicy(
            name="allow-prometheus-scrape", namespace=namespace, labels=labels, pod_selector={},
            policy_types=["Ingress"],
            ingress=[{"from": [_namespace(flows.monitoring_namespace)], "ports": ports}])
    for cidr in flows.egress_cidrs:
        name = f"allow-egress-{cidr.replace('/', '-').replace('.', '-')}"
        policies[name] = NetworkPolicy(
            name=name, namespace=namespace, labels=labels,
            pod_selector={"app.kubernetes.io/name": app}, policy_types=["Egress"],
            egress=[{"to": [{"ipBlock": {"cidr": cidr}}]}])
    return {name: obj for name, obj in sorted(policies.items())
            if name not in input_params.get("disabled", [])}


def _namespace(name):
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}
