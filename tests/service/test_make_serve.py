"""`make serve`, the README's first main-job command, really serves on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support import ROOT, answers, free_port, require_tool, wait_until

pytestmark = pytest.mark.slow


def test_make_serve_answers_health_and_stops_on_sigterm(tmp_path: Path) -> None:
    make = require_tool("make")
    port = free_port()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    with (tmp_path / "out.log").open("wb") as out:
        proc = subprocess.Popen(
            [make, "--no-print-directory", "serve", f"PORT={port}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}/api/health"
        wait_until(lambda: answers(url), timeout=60, what="make serve to answer")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=40)
    assert b"shutdown_complete" in (tmp_path / "out.log").read_bytes()
