"""Regenerate kapitan_dumps.json with Kapitan's own dumpers.

Run with the Python of a venv that has kapitan==0.36.3 (never a dependency
of ours): ``.kapitan-venv/bin/python tests/data/gen_kapitan_dumps.py``.
"""

import json
import os
import sys

import toml
import yaml
from kapitan import cached
from kapitan.utils import PrettyDumper

sys.path.insert(0, os.path.dirname(__file__))
import dump_cases as c


class _Args:
    yaml_dump_null_as_empty = False


def main() -> None:
    cached.args = _Args()
    out = {}
    for style in c.STYLES:
        dumper = PrettyDumper.get_dumper_for_style(style)
        for name, obj in c.CASES.items():
            out[f"{style}/{name}"] = yaml.dump(obj, Dumper=dumper, indent=2, default_flow_style=False)
    dumper = PrettyDumper.get_dumper_for_style("literal")
    out["literal/list_docs"] = yaml.dump_all(c.LIST_DOCS, Dumper=dumper, indent=2, default_flow_style=False)
    out["literal/indent4"] = yaml.dump(c.INDENT4, Dumper=dumper, indent=4, default_flow_style=False)
    cached.args.yaml_dump_null_as_empty = True
    out["literal/null_empty"] = yaml.dump(c.NULLS, Dumper=dumper, indent=2, default_flow_style=False)
    out["json"] = json.dumps(c.JSON, indent=2, sort_keys=True)
    out["toml"] = toml.dumps(c.TOML)
    out["inventory"] = yaml.dump(c.INVENTORY, Dumper=PrettyDumper, default_flow_style=False)
    path = os.path.join(os.path.dirname(__file__), "kapitan_dumps.json")
    with open(path, "w") as fp:
        json.dump(out, fp, indent=1, sort_keys=True)
        fp.write("\n")


if __name__ == "__main__":
    main()
