"""The starter project ``kcompile init`` writes: a small Kapitan-layout project that compiles.

One class, one target and one Jinja2 component, with ``.kapitan``,
``.gitignore`` and a README. ``kapitan compile`` 0.36.3 compiles it to the
same bytes as ``kcompile``. Files that exist already are never touched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

FILES: dict[str, str] = {
    ".kapitan": """\
# Option defaults for kcompile and kapitan (command line options win).
version: 0.36
global:
  inventory-path: inventory
""",
    ".gitignore": """\
# kcompile's incremental cache and the staging area of a run.
/.kcompile-cache
/.kcompile-staging/
# compiled/ is committed: `kcompile check` verifies it in CI.
""",
    "README.md": """\
# My Kapitan project

Made by `kcompile init`. Compile it, then check that `compiled/` is what the
sources produce (do this in CI):

```sh
kcompile            # or: kapitan compile
kcompile check
```

| path | what it holds |
|---|---|
| `inventory/targets/dev.yml` | the target `dev`: its classes and its own parameters |
| `inventory/classes/common.yml` | the class every target uses: names and the compile items |
| `components/hello/` | the Jinja2 templates of the `hello` component |
| `compiled/dev/` | the output, one directory per target (commit it) |
| `.kapitan` | option defaults, and the Kapitan version the project is pinned to |

Add a target: copy `inventory/targets/dev.yml` to `prod.yml` and change its
parameters. See a value and where it came from:
`kcompile explain -t dev hello.message`.
""",
    "inventory/classes/common.yml": """\
# Included by every target. ${...} is a reference to another parameter.
parameters:
  target_name: ${_reclass_:name:short}
  namespace: ${target_name}
  kapitan:
    vars:
      target: ${target_name}
    compile:
      # Each template under components/hello/templates becomes a file in
      # compiled/<target>/manifests/.
      - input_type: jinja2
        input_paths:
          - components/hello/templates
        output_path: manifests
  hello:
    image: nginx:1.27
    replicas: 1
    message: Hello from ${target_name}
""",
    "inventory/targets/dev.yml": """\
# The target dev: compiled into compiled/dev/.
classes:
  - common
parameters:
  hello:
    replicas: 2
""",
    "components/hello/templates/configmap.yml": """\
{% set p = inventory.parameters %}
apiVersion: v1
kind: ConfigMap
metadata:
  name: hello
  namespace: {{ p.namespace }}
data:
  message: {{ p.hello.message | tojson }}
""",
    "components/hello/templates/deployment.yml": """\
{% set p = inventory.parameters %}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
  namespace: {{ p.namespace }}
spec:
  replicas: {{ p.hello.replicas }}
  selector:
    matchLabels:
      app: hello
  template:
    metadata:
      labels:
        app: hello
    spec:
      containers:
        - name: hello
          image: {{ p.hello.image }}
          envFrom:
            - configMapRef:
                name: hello
""",
}


@dataclass
class InitReport:
    """What ``init`` wrote and what it left alone, as paths relative to the project."""

    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def write_project(root: str) -> InitReport:
    """Write the starter project into ``root``; an existing file is skipped, never changed."""
    report = InitReport()
    for rel, text in FILES.items():
        path = os.path.join(root, *rel.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            # "x": the check and the write are one step, so nothing is overwritten.
            with open(path, "x", encoding="utf-8") as fp:
                fp.write(text)
        except FileExistsError:
            report.skipped.append(rel)
            continue
        report.created.append(rel)
    return report
