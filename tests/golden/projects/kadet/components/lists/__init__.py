from kapitan.inputs.kadet import BaseObj


def main():
    docs = []
    for i in range(3):
        obj = BaseObj()
        obj.root.kind = "Thing"
        obj.root.index = i
        docs.append(obj)
    return {"stream": docs, "single": {"one": 1}}
