"""The publisher command sets its own retry bound in the client, and leaves the environment be."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.publish import __main__ as command
from tests.service.publish.conftest import FakeServer
from tests.service.publish.test_publisher import listed, serve_metrics


def command_environment(service_url: str, namespace: str, tmp_path: Path) -> dict[str, str]:
    """The APP_* settings `python -m service.publish` needs: one-second intervals, a fixed id."""
    return {
        "APP_METRICS_URL": f"{service_url}/metrics",
        "APP_METRICS_NAMESPACE": namespace,
        "APP_METRICS_INTERVAL": "1",
        "APP_INSTANCE_ID": "i-0test",
        "APP_DATABASE": str(tmp_path / "onebox.db"),
    }


@pytest.fixture
def own_signal_handlers() -> Iterator[None]:
    """`main` installs SIGTERM/SIGINT handlers; pytest's are put back afterwards."""
    saved = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


def test_one_publish_leaves_the_environment_as_it_found_it(
    fake_http: FakeServer,
    cloudwatch: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    own_signal_handlers: None,
) -> None:
    serve_metrics(fake_http, ok=3, bad=0, fast=3)
    for name, value in command_environment(fake_http.url, "Onebox/env", tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    before = dict(os.environ)
    assert command.main(["--once"]) == 0
    assert dict(os.environ) == before
    assert "Healthy" in listed(cloudwatch, "Onebox/env")
