import json

from kapitan.inputs import kadet
from kapitan.inputs.kadet import current_target, inventory_global, load_from_search_paths
from kapitan.resources import file_exists, gzip_b64, jinja2_render_file, read_file
from kapitan.resources import inventory as resources_inventory
from kapitan.resources import yaml_dump, yaml_load, yaml_load_stream
from kapitan.utils import deep_get, flatten_dict, prune_empty, sha256_string

from .naming import full_name

applib = load_from_search_paths("applib")
inv = kadet.inventory(lazy=True)


def main(input_params):
    params = inv.parameters
    paths = kadet.search_paths.get()
    name = full_name(params.target_name, input_params["replicas"])
    greeting = applib.render("templates/greeting.txt.j2",
                             {"name": name, "target": current_target.get(),
                              "peers": applib.peers()})
    config = applib.ConfigMap(name=name, labels=params.app.labels.to_dict(),
                              data={"greeting": greeting, "empty": {}, "drop": [],
                                    "port": str(params.app.port)})
    service = applib.Service(name=name, port=params.app.port)
    everything = resources_inventory(None)
    this = resources_inventory(None, current_target.get())
    facts = {
        "target": current_target.get(),
        "target_full_path": params.kapitan.target_full_path,
        "global_full_paths": {t: inventory_global()[t].parameters.kapitan.get("target_full_path")
                              for t in sorted(inventory_global())},
        "lazy_missing_is_empty": not params.no_such_key.deeper,
        "args_search_paths": list(applib.search_paths),
        "search_paths_count": len(paths),
        "registered": sorted(applib.generate()),
        "need_error": applib.failing_service(),
        "deep_get": deep_get(params.to_dict(), ["app", "port"]),
        "deep_get_nested": deep_get(params.to_dict(), ["color"]),
        "deep_get_glob": deep_get(params.to_dict(), ["app", "*LAB*", "team"]),
        "flat": flatten_dict({"a": {"b": 1, "c": {"d": 2}}}),
        "pruned": prune_empty({"a": {}, "b": [None, {}, 1], "c": {"d": {}}, "e": 0}),
        "sha": sha256_string("kapitan"),
        "yaml_load": json.loads(yaml_load(paths, "data/settings.yml")),
        "yaml_load_stream": json.loads(yaml_load_stream(paths, "data/stream.yaml")),
        "yaml_dump": yaml_dump(json.dumps({"z": 1, "a": [1, 2]})),
        "read_file": read_file(paths, "data/motd.txt"),
        "file_exists": file_exists(paths, "data/nope.txt"),
        "gzip_b64": gzip_b64("hello"),
        "rendered": jinja2_render_file(paths, "templates/greeting.txt.j2",
                                       json.dumps({"name": "x", "target": "y", "peers": []})),
        "resources_targets": sorted(everything),
        "resources_namespace": this["parameters"]["namespace"],
        "resources_full_path": this["parameters"]["kapitan"]["target_full_path"],
    }
    return {"configmap": config, "service": service, "facts": facts}
