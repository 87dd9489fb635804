"""Every example of README.md, docs/ and bench/README.md says where it runs, and the ones that
can run here do, as written: `offline` blocks from the repository's root, `serve` blocks until
they serve (the `local` ones: test_local_examples.py)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.docs.documents import BENCH, EVERYTHING, EXAMPLES, shell_blocks, where
from tests.runbook.blocks import DOC_KINDS, Block
from tests.support import ROOT, answers, free_port, require_tool, wait_until

# What a `suite` block may show, and what runs it.
SUITE = {
    "make test": "the whole suite",
    "make local": "tests/localbox/test_make_local.py",
    "make local TOPOLOGY=ha": "tests/localbox/test_ha.py",
}
TOOLS = ("make", "curl", "jq", "sqlite3", "promtool")
PIPED_MAKE = re.compile(r"\bmake\b(?! -s\b)[^|#]*\|")  # `make x | jq`: make echoes its command


def commands(block: Block) -> list[str]:
    """The block's command lines, comments and blank lines dropped."""
    lines = (line.split("  #")[0].strip() for line in block.code.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "AWS_"))}
    return env | {"TMPDIR": str(tmp_path)}


def test_every_shell_block_says_how_it_is_run() -> None:
    wrong = [
        (where(path, block), block.kind)
        for path, block in shell_blocks(EXAMPLES)
        if block.kind not in DOC_KINDS or (block.kind == "bench") != (path == BENCH)
    ]
    assert wrong == [], "kinds: see tests/runbook/blocks.py; `bench` only in bench/README.md"


def test_local_and_aws_blocks_say_where_they_run_on_their_first_line() -> None:
    for path, block in shell_blocks(EXAMPLES):
        expected = {"local": "# local box", "aws": "# AWS only"}.get(block.kind)
        if expected:
            assert block.first_line.startswith(expected), (where(path, block), block.first_line)


def test_suite_blocks_show_only_what_the_suite_runs_itself() -> None:
    for path, block in shell_blocks(EXAMPLES):
        if block.kind == "suite":
            for command in commands(block):
                assert command in SUITE, f"{where(path, block)}: {command!r} is run by no test"


def test_bench_blocks_name_targets_and_modules_that_exist() -> None:
    targets = (ROOT / "Makefile").read_text()
    for path, block in shell_blocks([BENCH]):
        for command in commands(block):
            if command.startswith("make "):
                target = command.split()[1]
                assert re.search(rf"^{target}:", targets, re.M), (where(path, block), command)
                continue
            module = re.match(r"\.venv/bin/python -m (bench(?:\.\w+)+)", command)
            assert module, f"{where(path, block)}: {command!r} is not make or python -m bench..."
            file = ROOT.joinpath(*module[1].split("."))
            assert file.with_suffix(".py").is_file() or (file / "__main__.py").is_file(), command


def test_make_is_silent_wherever_its_output_is_piped() -> None:
    loud = [
        (where(path, block), line)
        for path, block in shell_blocks(EVERYTHING)
        for line in block.code.splitlines()
        if PIPED_MAKE.search(line)
    ]
    assert loud == [], "use `make -s ... |`: make prints its command line first"


OFFLINE = [(path, block) for path, block in shell_blocks(EXAMPLES) if block.kind == "offline"]


@pytest.mark.parametrize(("path", "block"), OFFLINE, ids=[where(p, b) for p, b in OFFLINE])
def test_an_offline_example_runs_as_written(path: Path, block: Block, tmp_path: Path) -> None:
    for tool in TOOLS:
        if re.search(rf"\b{tool}\b", block.code):
            require_tool(tool)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.code],
        cwd=ROOT,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{where(path, block)}:\n{result.stdout}\n{result.stderr}"


SERVE = [(path, block) for path, block in shell_blocks(EXAMPLES) if block.kind == "serve"]
GUNICORN_MASTER = re.compile(r"Listening at: \S+ \((\d+)\)")


@pytest.mark.slow
@pytest.mark.parametrize(("path", "block"), SERVE, ids=[where(p, b) for p, b in SERVE])
def test_a_serve_example_serves_and_its_pipeline_prints_the_error_lines(
    path: Path, block: Block, tmp_path: Path
) -> None:
    """The block runs until gunicorn stops (SIGTERM, as Ctrl-C's graceful twin); a 404 in
    between must come out of the pipeline as its JSON line, and the pipeline must exit 0."""
    require_tool("make")
    require_tool("jq")
    port = free_port()
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            ["bash", "-euo", "pipefail", "-c", block.code],
            cwd=ROOT,
            env=clean_env(tmp_path) | {"PORT": str(port)},
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}/api"
        wait_until(lambda: answers(f"{url}/health/ready"), 60, f"{where(path, block)} to serve")
        assert not answers(f"{url}/users/nobody-{port}/state")  # a 404: an error line
        master = GUNICORN_MASTER.search(err.read_text())
        assert master, err.read_text()
        os.kill(int(master[1]), signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert code == 0, f"{where(path, block)} exited {code}:\n{err.read_text()[-3000:]}"
    assert f"nobody-{port}" in out.read_text(), out.read_text()
