"""Real servers for the fetch tests: git repositories served by file://, an HTTP server on
127.0.0.1, archives built in memory, and a small Kapitan project with dependencies.

Shared by the fetch tests of every dependency type.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml
from conftest import COMMON_CLASS

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
    # file:// submodules need this since git 2.38.1.
    "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "protocol.file.allow",
    "GIT_CONFIG_VALUE_0": "always",
}


def git(*args: str, cwd: Path | str) -> str:
    """Run git in ``cwd`` and return its stdout (stripped)."""
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
                         env={**os.environ, **GIT_ENV})
    return out.stdout.strip()


class GitRepo:
    """A real git repository in a temp dir, on branch ``main``, served as ``file://``."""

    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        git("init", "-q", "-b", "main", cwd=path)

    @property
    def url(self) -> str:
        """The ``file://`` URL a dependency's ``source`` names."""
        return self.path.as_uri()

    def commit(self, files: dict[str, str | None], message: str = "change") -> str:
        """Write (or, for None, delete) files, commit them all, return the commit SHA."""
        for rel, text in files.items():
            p = self.path / rel
            if text is None:
                p.unlink()
                continue
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        git("add", "-A", cwd=self.path)
        git("commit", "-q", "--allow-empty", "-m", message, cwd=self.path)
        return self.head()

    def head(self) -> str:
        """The SHA of HEAD."""
        return git("rev-parse", "HEAD", cwd=self.path)

    def tag(self, name: str, force: bool = False) -> None:
        """Tag HEAD (``force`` moves an existing tag)."""
        git("tag", *(["-f"] if force else []), name, cwd=self.path)

    def branch(self, name: str) -> None:
        """Create ``name`` at HEAD and switch to it."""
        git("checkout", "-q", "-b", name, cwd=self.path)

    def checkout(self, ref: str) -> None:
        """Switch to an existing branch."""
        git("checkout", "-q", ref, cwd=self.path)

    def add_submodule(self, other: GitRepo, path: str) -> str:
        """Add ``other`` as a submodule at ``path`` and commit."""
        git("submodule", "add", "-q", other.url, path, cwd=self.path)
        git("commit", "-q", "-m", f"submodule {path}", cwd=self.path)
        return self.head()


def tar_gz(files: dict[str, str | bytes]) -> bytes:
    """A .tar.gz holding ``files`` (``{name: content}``)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in sorted(files.items()):
            raw = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(raw))
    return buf.getvalue()


def zip_bytes(files: dict[str, str | bytes]) -> bytes:
    """A .zip holding ``files``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in sorted(files.items()):
            zf.writestr(name, data)
    return buf.getvalue()


class HttpServer:
    """A real HTTP server on 127.0.0.1 serving ``files`` (``{"/path": (bytes, content type)}``).

    Tests may change ``files`` while it runs; ``requests`` lists every path asked for.
    """

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                server.requests.append(path)
                entry = server.files.get(path)
                if entry is None:
                    self.send_error(404, "not found")
                    return
                body, ctype = entry
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll: shutdown() waits for it, in every test that uses the server.
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        """The URL of ``path`` on this server."""
        return self.base + path

    def serve(self, path: str, body: bytes | str, ctype: str = "application/octet-stream") -> str:
        """Serve ``body`` at ``path``; return its URL."""
        self.files[path] = (body.encode() if isinstance(body, str) else body, ctype)
        return self.url(path)


@contextmanager
def http_server() -> Iterator[HttpServer]:
    """An :class:`HttpServer`, started and stopped around the block."""
    srv = HttpServer()
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()


def write_project(root: Path, targets: dict[str, list[dict]], classes: dict[str, dict] | None = None,
                  compile_items: dict[str, list[dict]] | None = None) -> Path:
    """A Kapitan project whose targets declare ``parameters.kapitan.dependencies``.

    ``targets``: ``{name: [dependency, ...]}``; each target uses class ``common``
    and the classes named in ``classes`` (``{class: parameters}``) in order.
    ``compile_items``: ``{name: [compile item, ...]}`` (default: none).
    """
    classes = classes or {}
    inv = root / "inventory"
    (inv / "classes").mkdir(parents=True, exist_ok=True)
    (inv / "targets").mkdir(parents=True, exist_ok=True)
    (inv / "classes" / "common.yml").write_text(COMMON_CLASS)
    for cls, params in classes.items():
        path = inv / "classes" / (cls.replace(".", "/") + ".yml")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump({"parameters": params}, sort_keys=False))
    for name, deps in targets.items():
        kapitan: dict = {}
        if deps:
            kapitan["dependencies"] = deps
        kapitan["compile"] = (compile_items or {}).get(name, [])
        doc = {"classes": ["common", *classes], "parameters": {"kapitan": kapitan}}
        (inv / "targets" / f"{name}.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return root
