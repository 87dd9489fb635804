"""Every command RUNBOOK.md shows for the local box runs, as written, against a `make local` box.

The blocks run in the order of the document, each in `bash -euo pipefail` from the repository's
root, with PORT and STATE set the way a reader sets them for a second box. A `local-start` block
starts the box in the background (its output is the terminal), a `local-stop` block stops it
and must leave a final backup behind; every other local block must exit 0.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runbook.blocks import Block, read
from tests.support import ROOT, answers, free_port, require_tool, stop, wait_until

pytestmark = pytest.mark.slow
BLOCK_TIMEOUT = 120  # the drills block is the longest: a box of its own, two drills


class LocalBox:
    """The shell pipeline a `local-start` block runs, and how to end it whatever happens."""

    def __init__(self, block: Block, env: dict[str, str], terminal: Path) -> None:
        self.env = env
        with terminal.open("ab") as out:
            self.proc = subprocess.Popen(
                ["bash", "-euo", "pipefail", "-c", block.code],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.terminal = terminal
        self.url = f"http://127.0.0.1:{env['PORT']}/api/health/ready"
        wait_until(
            lambda: self.proc.poll() is not None or answers(self.url),
            timeout=90,
            what=f"the box of RUNBOOK.md line {block.line} to serve",
        )
        assert self.proc.poll() is None, terminal.read_text()[-3000:]

    def wait_stopped(self) -> None:
        self.proc.wait(timeout=120)

    def end(self) -> None:
        """Stop it as Ctrl-C would (the whole terminal group), then kill it if it hangs."""
        stop(self.proc, grace=120, signum=signal.SIGINT, whole_group=True)


def run(block: Block, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT,
        check=False,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    for tool in ("make", "curl", "jq", "sqlite3", "diff", "tee"):
        require_tool(tool)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "AWS_"))}
    return clean | {
        "PORT": str(free_port()),
        "STATE": str(tmp_path / "box"),
        "TMPDIR": str(tmp_path),
    }


@contextlib.contextmanager
def boxes() -> Iterator[list[LocalBox]]:
    """The boxes the blocks start; any still running at the end is stopped."""
    started: list[LocalBox] = []
    try:
        yield started
    finally:
        for box in started:
            box.end()


def test_every_local_command_of_the_runbook_runs_against_a_local_box(
    env: dict[str, str], tmp_path: Path
) -> None:
    blocks = [b for b in read(ROOT / "RUNBOOK.md") if b.kind.startswith("local")]
    assert blocks, "RUNBOOK.md shows no command for the local box"
    saved_log = Path(env["STATE"] + ".log")  # what the start block's tee writes
    with boxes() as started:
        for block in blocks:
            where = f"RUNBOOK.md line {block.line}"
            running = bool(started) and started[-1].proc.poll() is None
            if block.kind == "local-start":
                assert not running, f"{where}: the box is already running"
                started.append(LocalBox(block, env, tmp_path / "terminal.log"))
                continue
            assert running, f"{where}: needs a running box"
            result = run(block, env)
            assert result.returncode == 0, f"{where}:\n{result.stdout}\n{result.stderr}"
            if block.kind == "local-stop":
                started[-1].wait_stopped()
                assert saved_log.read_text().count("final backup exit 0") == len(started)
