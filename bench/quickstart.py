"""Time the README's quick start as a newcomer runs it, and weigh the venv it makes.

    python bench/quickstart.py [--runs N] [--command 'CMD']

Each run clones this repository's HEAD into a temporary directory, empties a
pip cache of its own (``PIP_CACHE_DIR``), and runs the quick start command
taken from README.md (the first ``sh`` block under "## Quick start"), or
``--command``. It prints the wall time and the size of ``.venv`` per run.
The download speed of the package index counts in the time, as it does for
a newcomer.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def readme_command() -> str:
    """The first shell command of the README's quick start."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Quick start", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "no ```sh block under ## Quick start"
    return block.group(1).strip()


def tree_mb(path: Path) -> float:
    """Bytes of the files under ``path`` (links counted once), in MB."""
    seen, total = set(), 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(root, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total / 1e6


def run_once(command: str) -> tuple[float, float]:
    """Clone, run ``command`` in the clone with an empty pip cache: (seconds, venv MB)."""
    with tempfile.TemporaryDirectory(prefix="kcompile-quickstart-") as tmp:
        clone = Path(tmp) / "kapitan-lite"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        env = {**os.environ, "PIP_CACHE_DIR": str(Path(tmp) / "pip-cache")}
        start = time.monotonic()
        subprocess.run(["bash", "-c", command], cwd=clone, env=env, check=True)
        seconds = time.monotonic() - start
        return seconds, tree_mb(clone / ".venv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--command", default=None, help="Another command to time [README's].")
    args = parser.parse_args()
    command = args.command or readme_command()
    print(f"command: {command}")
    for i in range(args.runs):
        seconds, mb = run_once(command)
        print(f"run {i + 1}: {seconds:.1f} s, .venv {mb:.0f} MB", flush=True)


if __name__ == "__main__":
    main()
