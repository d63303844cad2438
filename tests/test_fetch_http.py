"""http dependencies: a file, tar.gz and zip archives from a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import kcompile
from fetch_support import http_server, tar_gz, write_project, zip_bytes


@pytest.fixture
def server():
    with http_server() as srv:
        yield srv


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"KCOMPILE_CACHE_DIR": str(tmp_path / "cache")}


def test_file_tar_gz_zip_and_a_second_fetch_downloads_nothing(tmp_path, server, env):
    yml = server.serve("/crds/app.yaml", "kind: CRD\n", "application/x-yaml")
    # Served as octet-stream: the bytes say what it is.
    tgz = server.serve("/dl/chart.tgz", tar_gz({"chart/Chart.yaml": "name: c\n",
                                                 "chart/.helmignore": "x\n"}))
    zipped = server.serve("/dl/lib.zip", zip_bytes({"lib/a.txt": "a\n"}), "application/zip")
    p = write_project(tmp_path / "p", {"t": [
        {"type": "http", "source": yml, "output_path": "vendor/crds/app.yaml"},
        {"type": "http", "source": tgz, "unpack": True, "output_path": "vendor/tgz"},
        {"type": "http", "source": zipped, "unpack": True, "output_path": "vendor/zip"},
    ]})
    run = kcompile("fetch", cwd=p, env=env)
    assert run.code == 0, run.err
    assert (p / "vendor/crds/app.yaml").read_text() == "kind: CRD\n"
    assert (p / "vendor/tgz/chart/Chart.yaml").read_text() == "name: c\n"
    assert not (p / "vendor/tgz/chart/.helmignore").exists()  # unforced, as Kapitan
    assert (p / "vendor/zip/lib/a.txt").read_text() == "a\n"
    lock = yaml.safe_load((p / "kcompile.lock").read_text())
    assert [(e["source"], sorted(e["pin"])) for e in lock["dependencies"]] == \
        [(s, ["sha256"]) for s in sorted([yml, tgz, zipped])]
    asked = len(server.requests)
    shutil.rmtree(p / "vendor")
    run = kcompile("fetch", "--force", cwd=p, env=env)
    assert run.code == 0, run.err
    assert len(server.requests) == asked  # all from the cache
    assert (p / "vendor/tgz/chart/.helmignore").exists()  # forced: dotfiles too


def test_replaced_file_locked_and_cache_miss(tmp_path, server, env):
    url = server.serve("/v/values.yaml", "a: 1\n")
    p = write_project(tmp_path / "p", {"t": [
        {"type": "http", "source": url, "output_path": "values.yaml"},
    ]})
    assert kcompile("fetch", cwd=p, env=env).code == 0
    server.serve("/v/values.yaml", "a: 2\n")  # replaced upstream
    run = kcompile("fetch", "--locked", cwd=p, env=env)
    assert run.code == 2
    assert f"dependency http {url}: differs from kcompile.lock: sha256 " in run.err
    # A new machine (empty cache) with the lock: the changed bytes are refused.
    fresh = {"KCOMPILE_CACHE_DIR": str(tmp_path / "c2")}
    (p / "values.yaml").unlink()
    run = kcompile("fetch", cwd=p, env=fresh)
    assert run.code == 2 and "the file changed upstream" in run.err
    assert not (p / "values.yaml").exists()
    # Offline from the first cache works with the server gone.
    server.files.clear()
    run = kcompile("fetch", "--offline", cwd=p, env=env)
    assert run.code == 0, run.err
    assert (p / "values.yaml").read_text() == "a: 1\n"
    # Unforced, a file that exists is kept: nothing is missing.
    assert kcompile("fetch", "--offline", cwd=p, env=fresh).code == 0
    (p / "values.yaml").unlink()
    run = kcompile("fetch", "--offline", cwd=p, env=fresh)
    assert run.code == 2 and "is not in the cache (--offline)" in run.err
    run = kcompile("fetch", "--update", cwd=p, env=env)
    assert run.code == 2 and "HTTP 404" in run.err


def test_a_type_we_cannot_unpack_is_an_error(tmp_path, server, env):
    html = server.serve("/page", "<html>login</html>", "text/html")
    fake = server.serve("/fake.tar.gz", "not really", "application/gzip")
    p = write_project(tmp_path / "p", {"t": [
        {"type": "http", "source": html, "unpack": True, "output_path": "a"},
        {"type": "http", "source": fake, "unpack": True, "output_path": "b"},
        {"type": "http", "source": "file:///etc/passwd", "output_path": "c"},
    ]})
    run = kcompile("fetch", cwd=p, env=env)
    assert run.code == 2
    assert run.err_lines[:3] == [
        f"inventory/targets/t.yml:6: t: dependency http {html}: cannot unpack: the content is "
        "not a tar, tar.gz or zip archive (Content-Type text/html)",
        f"inventory/targets/t.yml:10: t: dependency http {fake}: cannot unpack: the server says "
        "tar.gz (Content-Type application/gzip), but the content is not a tar, tar.gz or zip "
        "archive",
        "inventory/targets/t.yml:14: t: dependency http file:///etc/passwd: source must be an "
        "http:// or https:// URL",
    ]
    assert not (p / "a").exists() and not (p / "b").exists() and not (p / "c").exists()
