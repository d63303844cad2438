"""Record what kapicorp-reclass (Kapitan's default engine) renders for the conformance inventory.

    python tests/data/conformance/regen.py

Writes ``expected.json``: ``{node: {classes, applications, parameters, exports}}``
for every node of ``inventory/`` with the options of its ``reclass-config.yml``,
``_reclass_`` left in. tests/test_engines.py checks every engine against it.
Run it again after editing the inventory, and commit both.
"""

from __future__ import annotations

import json
from pathlib import Path

import reclass
import reclass.core
import reclass.settings
import yaml

HERE = Path(__file__).resolve().parent
INVENTORY = HERE / "inventory"


def render() -> dict:
    """Every node as kapicorp-reclass renders it."""
    config = yaml.safe_load((INVENTORY / "reclass-config.yml").read_text())
    nodes = str(INVENTORY / config.pop("nodes_uri"))
    classes = str(INVENTORY / config.pop("classes_uri"))
    settings = reclass.settings.Settings({**config, "nodes_uri": nodes, "classes_uri": classes})
    storage = reclass.get_storage("yaml_fs", nodes, classes, config["compose_node_name"])
    core = reclass.core.Core(storage, None, settings)
    out = {}
    for node in sorted(p.stem for p in Path(nodes).rglob("*.yml")):
        info = core.nodeinfo(node)
        out[node] = {key: info[key] for key in ("classes", "applications", "parameters",
                                                "exports")}
    return out


def main() -> None:
    (HERE / "expected.json").write_text(json.dumps(render(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {HERE / 'expected.json'}")


if __name__ == "__main__":
    main()
