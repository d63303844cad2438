"""A tiny Kubernetes object library, loaded with kadet.load_from_search_paths."""
from kapitan.inputs.kadet import BaseObj, inventory

inv = inventory()


class NetworkPolicy(BaseObj):
    def new(self):
        self.need("name", "name needed")
        self.need("ports")
        self.root.apiVersion = "networking.k8s.io/v1"
        self.root.kind = "NetworkPolicy"

    def body(self):
        self.root.metadata.name = self.kwargs.name
        self.root.metadata.namespace = inv.parameters.namespace
        self.root.spec.podSelector.matchLabels.app = inv.parameters.target_name
        self.root.spec.ingress = [
            {"ports": [{"port": p, "protocol": "TCP"} for p in self.kwargs.ports],
             "from": [{"podSelector": {"matchLabels": {"role": src}}} for src in self.kwargs.sources]}
        ]
