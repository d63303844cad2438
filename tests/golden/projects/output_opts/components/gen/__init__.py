from kapitan.inputs import kadet

helpers = kadet.load_from_search_paths("helpers")


def main():
    doc = {
        "text": helpers.text(),
        "nothing": None,
        "nested": {"list": [{"a": 1, "b": None}, "x"], "empty": {}},
        "target": kadet.inventory().parameters.target_name,
    }
    return {"doc": doc, "stream": [doc, {"second": None}]}
