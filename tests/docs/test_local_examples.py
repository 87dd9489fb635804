"""Every `local` example of README.md and docs/ runs, as written, against one `make local` box.

The box is started as RUNBOOK.md's Start block starts it (its output saved to `$STATE.log`),
then the blocks run in the order of the documents, each in `bash -euo pipefail` from the
repository's root with PORT and STATE set as a reader sets them for a second box.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.documents import EXAMPLES, shell_blocks, where
from tests.runbook.blocks import Block
from tests.runbook.test_local_commands import LocalBox, boxes, env, run

__all__ = ["env"]  # the runbook's fixture: tools, a free PORT, STATE and TMPDIR under tmp_path
pytestmark = pytest.mark.slow

START = Block(0, "sh", "local-start", 'make local 2>&1 | tee -i "${STATE:-var/local}.log"\n')


def test_every_local_example_of_the_docs_runs_against_a_local_box(
    env: dict[str, str], tmp_path: Path
) -> None:
    blocks = [(path, block) for path, block in shell_blocks(EXAMPLES) if block.kind == "local"]
    assert blocks, "the docs show no command for the local box"
    with boxes() as started:
        started.append(LocalBox(START, env, tmp_path / "terminal.log"))
        for path, block in blocks:
            assert started[0].proc.poll() is None, f"{where(path, block)}: the box stopped"
            result = run(block, env)
            assert result.returncode == 0, (
                f"{where(path, block)}:\n{result.stdout}\n{result.stderr}"
            )
