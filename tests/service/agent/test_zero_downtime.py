"""The agent against moto and a real gunicorn under load: a deploy and a rollback, no failures."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.load import Load
from service.agent.__main__ import main
from service.agent.layout import Layout
from tests.service.agent import releases
from tests.service.agent.conftest import Gunicorn, install

pytestmark = pytest.mark.slow


def health(url: str) -> tuple[dict[str, Any], str | None]:
    with urllib.request.urlopen(f"{url}/api/health", timeout=5) as response:  # noqa: S310
        return json.loads(response.read()), response.headers.get("X-Onebox-Release")


@pytest.fixture
def running(box: Layout, tmp_path: Path, serve: Callable[[], Gunicorn]) -> tuple[str, Gunicorn]:
    """(version, server): the current release installed without the agent, and serving."""
    version = install(box, releases.build(), tmp_path)
    return version, serve()


@dataclass(frozen=True)
class Deploy:
    version: str  # the release published
    code: int  # the agent's exit code
    load: Load  # what the load saw, from before the agent started until after it ended


@pytest.fixture
def deploy(
    running: tuple[str, Gunicorn], publish: Callable[[bytes], str], agent_env: Callable[..., None]
) -> Callable[..., Deploy]:
    """deploy(archive, keepalive=, check=): publish it and run the agent once under load.

    Whatever the agent does, nothing the load sent may fail, be refused or be reset.
    """
    server = running[1]
    port = urllib.parse.urlsplit(server.url).port
    assert port is not None

    def run(archive: bytes, keepalive: bool = False, check: str = "20") -> Deploy:
        version = publish(archive)
        agent_env(url=server.url, reload=f"kill -HUP {server.proc.pid}", check=check)
        with Load(port, "deploy", keepalive=keepalive, limit=120) as load:
            load.wait_for_requests(50)
            code = main([])
            load.wait_for_requests(50)
        tally = load.window(0)
        assert tally.count("failed", "refused", "reset") == 0, tally.problems()[:5]
        return Deploy(version, code, load)

    return run


@pytest.mark.parametrize("keepalive", [False, True], ids=["new-connections", "kept-alive"])
def test_a_new_release_goes_live_under_load_without_a_failed_or_refused_request(
    keepalive: bool, box: Layout, running: tuple[str, Gunicorn], deploy: Callable[..., Deploy]
) -> None:
    old, server = running
    body, marker = health(server.url)
    assert (body["version"], marker) == (old, None)

    new = deploy(releases.build(releases.MARKED), keepalive=keepalive)

    assert new.code == 0
    requests = len(new.load.outcomes)
    assert new.load.window(0).ok == requests >= 100
    if keepalive:
        # Clients asking to keep their connection (as nginx's upstream pool does) lose nothing
        # either: the box's sync workers answer each on its own connection and close it, so
        # none is left for a retiring worker to drop.
        assert new.load.connections == requests
    body, marker = health(server.url)
    assert body["version"] == new.version
    # The header exists only in the new release's code: the new workers imported it.
    assert marker == "marked"
    assert box.current_version() == new.version
    assert server.proc.poll() is None


def test_a_release_that_fails_readiness_is_rolled_back_under_load_without_a_failed_request(
    box: Layout, running: tuple[str, Gunicorn], deploy: Callable[..., Deploy]
) -> None:
    good, server = running

    bad = deploy(releases.build(releases.UNREADY), check="5")

    assert bad.code == 1
    assert box.current_version() == good
    assert health(server.url)[0]["version"] == good
    assert bad.version in box.failed_versions()
    events = [
        json.loads(line)["event"]
        for line in server.log.read_text().splitlines()
        if line.startswith("{") and '"event"' in line
    ]
    assert "shutdown_initiated" not in events  # reloads, never a restart
