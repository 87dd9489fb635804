"""`make serve`, the README's first main-job command, really serves on 127.0.0.1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import answers, free_port, start_make, stop, wait_until

pytestmark = pytest.mark.slow


def test_make_serve_answers_health_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    proc = start_make("serve", tmp_path / "out.log", env, f"PORT={port}")
    try:
        url = f"http://127.0.0.1:{port}/api/health"
        wait_until(lambda: answers(url), timeout=60, what="make serve to answer")
    finally:
        stop(proc, grace=40, whole_group=True)
    assert b"shutdown_complete" in (tmp_path / "out.log").read_bytes()
