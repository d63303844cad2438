"""A NetworkPolicy as a kadet BaseObj."""

from kapitan.inputs.kadet import BaseObj


class NetworkPolicy(BaseObj):
    def new(self):
        self.need("name", "a NetworkPolicy needs a name")
        self.need("namespace")
        self.need("pod_selector", "pod_selector: {} selects every pod")
        self.need("policy_types")

    def body(self):
        self.root.apiVersion = "networking.k8s.io/v1"
        self.root.kind = "NetworkPolicy"
        self.root.metadata.name = self.kwargs.name
        self.root.metadata.namespace = self.kwargs.namespace
        self.root.metadata.labels = self.kwargs.get("labels", {})
        self.root.spec.podSelector = (
            {"matchLabels": self.kwargs.pod_selector} if self.kwargs.pod_selector else {})
        self.root.spec.policyTypes = self.kwargs.policy_types
        if self.kwargs.get("ingress"):
            self.root.spec.ingress = self.kwargs.ingress
        if self.kwargs.get("egress"):
            self.root.spec.egress = self.kwargs.egress
