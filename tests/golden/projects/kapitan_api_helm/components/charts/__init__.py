from kapitan.inputs.helm import HelmChart
from kapitan.inputs.kadet import BaseObj, inventory


class LabelledChart(HelmChart):
    """kapicorp/generators style: a subclass that keys objects its own way."""

    def new(self):
        for obj in self.load_chart():
            if obj:
                obj["metadata"].setdefault("labels", {})["rendered-by"] = "kadet"
                self.root[f"{obj['kind'].lower()}-{obj['metadata']['name']}"] = BaseObj.from_dict(obj)


def main(input_params):
    target = inventory().parameters
    values = {"replicas": target.chart.replicas}
    if "code" in target.chart:
        values["code"] = target.chart.code
    plain = HelmChart(chart_dir=input_params["chart_dir"],
                      helm_params={"name": target.target_name, "namespace": "ns-" + target.target_name},
                      helm_values=values)
    mine = LabelledChart(chart_dir=input_params["chart_dir"],
                         helm_params={"name": "other"})
    out = {f"plain-{k}": v for k, v in plain.root.items()}
    out.update({f"labelled-{k}": v for k, v in mine.root.items()})
    return out
