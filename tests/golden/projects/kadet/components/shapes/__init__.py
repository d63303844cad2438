from kapitan.inputs.kadet import BaseModel, BaseObj, inventory


class Deployment(BaseModel):
    name: str
    replicas: int = 1

    def body(self):
        self.root.apiVersion = "apps/v1"
        self.root.kind = "Deployment"
        self.root.metadata.name = self.name
        self.root.spec.replicas = self.replicas
        self.root.spec.template.metadata.annotations = {}
        self.root.spec.template.spec.containers = [{"name": self.name, "env": [], "args": None}]


def main(input_params):
    inv = inventory()
    dep = Deployment(name=inv.parameters.target_name, replicas=input_params["replicas"])
    cm = BaseObj()
    cm.root.kind = "ConfigMap"
    cm.root.data.banner = inv.parameters.banner
    cm.root.data.password = inv.parameters.password
    cm.root.data.zero = 0
    cm.root.data.off = False
    cm.root.data.blank = ""
    cm.root.data.nothing = None
    cm.root.data.unicode = "café ✓"
    return {"deployment": dep, "configmap": cm, "params": {"given": sorted(input_params)}}
