"""A small fleet in a real git repository, for the ``check`` and ``diff`` tests."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
from pathlib import Path

from conftest import backdate, kcompile, write_tree

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_SYSTEM": os.devnull,
    "GIT_OPTIONAL_LOCKS": "0",  # so looking at the repository does not rewrite its index
}

SECRETS = {"alpha": "alpha-db-pass-1", "beta": "beta-db-pass-1", "gamma": "gamma-db-pass-1",
           "delta": "delta-db-pass-1"}

FILES = {
    # Every target gets the defaults; ``web`` sets the log level that alpha
    # and beta inherit and gamma overrides; delta does not include ``web``.
    "inventory/classes/common.yml": """\
        parameters:
          target_name: ${_reclass_:name:short}
          namespace: ${target_name}
          replicas: 1
          image: shop/web:1.0
          log_level: info
          db_password: ?{base64:targets/${target_name}/db}
          kapitan:
            vars:
              target: ${target_name}
            compile:
              - input_type: jinja2
                input_paths: [templates/manifests]
                output_path: manifests
              - input_type: jinja2
                input_paths: [templates/docs]
                output_path: docs
        """,
    "inventory/classes/web.yml": """\
        parameters:
          log_level: info
          replicas: 2
        """,
    "inventory/targets/alpha.yml": "classes: [common, web]\n",
    "inventory/targets/beta.yml": "classes: [common, web]\n",
    "inventory/targets/gamma.yml": "classes: [common, web]\nparameters:\n  log_level: debug\n",
    "inventory/targets/delta.yml": "classes: [common]\n",
    "templates/manifests/deployment.yml": """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          namespace: {{ inventory.parameters.namespace }}
        spec:
          replicas: {{ inventory.parameters.replicas }}
          template:
            spec:
              containers:
                - name: web
                  image: {{ inventory.parameters.image }}
                  env:
                    - name: LOG_LEVEL
                      value: {{ inventory.parameters.log_level }}
                    - name: TARGET
                      value: {{ target }}
        """,
    "templates/manifests/secret.yml": """\
        apiVersion: v1
        kind: Secret
        metadata:
          name: db
          namespace: {{ inventory.parameters.namespace }}
        stringData:
          password: {{ inventory.parameters.db_password }}
        """,
    "templates/docs/README.md": """\
        # {{ target }}

        Replicas: {{ inventory.parameters.replicas }}
        Log level: {{ inventory.parameters.log_level }}
        """,
}


def ref_file(root: Path, path: str, plaintext: str, ref_type: str = "base64") -> None:
    """Write a ref in Kapitan's on-disk format."""
    data = base64.b64encode(plaintext.encode()).decode() if ref_type == "base64" else plaintext
    dest = root / "refs" / path
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(f"data: {data}\nencoding: original\ntype: {ref_type}\n")


def ref_hash(root: Path, path: str) -> str:
    """Kapitan's 8-character hash of a stored ref."""
    data = (root / "refs" / path).read_text().split("\n")[0].split(": ", 1)[1]
    return hashlib.sha256(f"{path}{data}".encode()).hexdigest()[:8]


def git(root: Path, *args: str) -> str:
    """Run git in ``root``; its output."""
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}, check=True)
    return proc.stdout


def commit(root: Path, message: str) -> None:
    """Commit everything in the working tree."""
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def make_fleet(root: Path) -> Path:
    """The fleet, compiled and committed on ``main``."""
    write_tree(root, FILES)
    for name, secret in SECRETS.items():
        ref_file(root, f"targets/{name}/db", secret)
    git(root, "init", "-q", "-b", "main")
    backdate(root)
    run = kcompile(cwd=root)
    assert run.code == 0, run.err
    commit(root, "fleet")
    return root


def make_delta_read_alpha(root: Path) -> None:
    """Give delta a template that reads alpha's log level through ``inventory_global``;
    compile and commit."""
    write_tree(root, {
        "templates/global/peers.yml": (
            "peer_log_level: {{ inventory_global['alpha'].parameters.log_level }}\n"),
        "inventory/targets/delta.yml": """\
            classes: [common]
            parameters:
              kapitan:
                compile:
                  - input_type: jinja2
                    input_paths: [templates/global]
                    output_path: peers
            """,
    })
    backdate(root, 50)
    run = kcompile(cwd=root)
    assert run.code == 0, run.err
    commit(root, "peers")


def git_state(root: Path) -> dict[str, object]:
    """Everything of the repository a review must leave alone."""
    git_dir = root / ".git"
    return {
        "index": (git_dir / "index").read_bytes(),
        "status": git(root, "status", "--porcelain", "--untracked-files=all"),
        "worktrees": git(root, "worktree", "list", "--porcelain"),
        "stash": git(root, "stash", "list"),
        "branches": git(root, "branch", "-a", "-v"),
        "head": git(root, "rev-parse", "HEAD"),
        "refs": sorted(p.name for p in (git_dir / "refs").rglob("*")),
        "git_dir": sorted(p.name for p in git_dir.iterdir()),
    }
