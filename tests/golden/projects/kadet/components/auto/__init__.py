def main():
    data = {"name": "x", "items": [1, 2]}
    return {"a.json": data, "b.yaml": data, "c.yml": data, "d.toml": data, "plain-name": data}
