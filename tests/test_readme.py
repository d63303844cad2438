"""The README's commands are the ones CI runs."""

import re

from conftest import REPO


def _sh_block_after(text: str, marker: str) -> str:
    block = re.search(r"```sh\n(.*?)```", text.split(marker, 1)[1], re.S)
    assert block, f"no ```sh block after {marker!r}"
    return block.group(1).strip()


def test_ci_runs_exactly_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    command = _sh_block_after(readme, "Run the tests")
    assert "pytest" in command and "pip install" in command  # installs what the tests need
    assert command in (REPO / ".ci/run").read_text().splitlines()
