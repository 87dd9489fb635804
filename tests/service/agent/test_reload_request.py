"""The agent's default reload is a request, not a command: it touches a file, and the root
helper (onebox-reload.path and onebox-reload.service on the box) sends the HUP later.

A thread stands in for the path unit: it watches the file the default command touches (moved
into tmp_path) and HUPs a real gunicorn a moment after each touch. The agent must wait for the
new version to answer rather than assume the reload happened when its command returned.
"""

from __future__ import annotations

import os
import shlex
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from service import config
from service.agent.__main__ import main
from service.agent.layout import Layout
from tests.service.agent import releases
from tests.service.agent.conftest import Gunicorn, Live
from tests.support import unit_directives

LATER = 0.5  # seconds between the touch and the HUP


@pytest.fixture
def request_file(tmp_path: Path) -> Path:
    """Where the default reload command's file lives in this test."""
    (watched,) = unit_directives("onebox-reload.path", "PathModified")
    return tmp_path / watched.lstrip("/")


@pytest.fixture
def helper(request_file: Path) -> Iterator[Callable[[Gunicorn], list[float]]]:
    """helper(server) -> the times it sent HUP; watches `request_file` until the test ends."""
    done = threading.Event()
    threads: list[threading.Thread] = []

    def start(server: Gunicorn) -> list[float]:
        sent: list[float] = []

        def watch() -> None:
            seen = None
            while not done.wait(0.05):
                mtime = request_file.stat().st_mtime_ns if request_file.exists() else None
                if mtime is not None and mtime != seen:
                    seen = mtime
                    time.sleep(LATER)
                    os.kill(server.proc.pid, signal.SIGHUP)
                    sent.append(time.monotonic())

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        threads.append(thread)
        return sent

    yield start
    done.set()
    for thread in threads:
        thread.join(timeout=5)


def test_a_deploy_goes_live_through_the_default_reload_request(
    box: Layout,
    tmp_path: Path,
    live: Live,
    publish: Callable[[bytes], str],
    agent_env: Callable[..., None],
    request_file: Path,
    helper: Callable[[Gunicorn], list[float]],
) -> None:
    server = live.server
    sent = helper(server)
    request_file.parent.mkdir(parents=True)  # the agent's RuntimeDirectory= on the box
    program, *arguments = config.defaults()["AGENT_RELOAD_COMMAND"]
    command = [program, *(str(tmp_path / a.lstrip("/")) for a in arguments)]
    new = publish(releases.build(releases.MARKED))
    agent_env(url=server.url, reload=shlex.join(command))

    assert main([]) == 0

    assert box.current_version() == new
    assert len(sent) == 1
    assert server.proc.poll() is None
