"""Fixtures for the service: an app on a temporary database, and real gunicorn processes.

`start_service` starts gunicorn with the exact command line and environment that
service/deploy/onebox.service declares, with only the bind address, the database and the
metrics directory moved into the test's temporary directory.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from localbox.units import OFF_BOX
from service.web import create_app
from tests.aws import aws_environment, moto_server
from tests.support import (
    ROOT,
    answers,
    free_port,
    stop,
    unit_command,
    unit_environment,
    wait_until,
)

UNIT = "onebox.service"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app({"DATABASE": str(tmp_path / "app.db"), "ENV": "test"})
    yield app
    app.extensions["onebox"].metrics.close()
    app.extensions["onebox"].activity.close()
    app.extensions["onebox"].store.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process and its children talk to moto_server only, with fake credentials."""
    env = aws_environment(moto_endpoint)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@dataclass
class Service:
    """One gunicorn master started like the unit starts it; its output goes to files."""

    proc: subprocess.Popen[bytes]
    port: int
    database: Path
    stdout: Path
    stderr: Path
    env: dict[str, str] = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> list[dict[str, Any]]:
        """Every line the service wrote, stdout then stderr, each parsed as JSON."""
        lines = self.stdout.read_text().splitlines() + self.stderr.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def events(self) -> list[str]:
        return [entry["event"] for entry in self.logs() if "event" in entry]

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 30) -> int:
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL to the whole group if it has not gone in 35 s."""
        stop(self.proc, grace=35)


def launch(tmp_path: Path, database: Path | None = None, **env: str) -> Service:
    """Start gunicorn as the unit does and wait until it is ready."""
    port = free_port()
    run = tmp_path / f"run-{port}"
    run.mkdir()
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("APP_")},
        **unit_environment(UNIT),
        **OFF_BOX,  # a test that wants a token file names its own
        "APP_DATABASE": str(database or tmp_path / "onebox.db"),
        "PROMETHEUS_MULTIPROC_DIR": str(run / "metrics"),
        **env,
    }
    stdout, stderr = run / "stdout.log", run / "stderr.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(
            [*unit_command(UNIT), "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group, so teardown reaches the workers
        )
    service = Service(proc, port, Path(environ["APP_DATABASE"]), stdout, stderr, environ)
    try:
        wait_until(
            lambda: proc.poll() is not None or answers(f"{service.url}/api/health/ready"),
            what="gunicorn to answer /api/health/ready",
        )
    except BaseException:
        service.stop()
        raise
    if proc.poll() is not None:
        pytest.fail(f"gunicorn exited with {proc.returncode}: {stderr.read_text()[-2000:]}")
    return service


def serving(factory: pytest.TempPathFactory, name: str, **env: str) -> Iterator[Service]:
    """A module's service: launched in a folder of its own, stopped when the module is done."""
    service = launch(factory.mktemp(name), **env)
    yield service
    service.stop()


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """Factory: start_service(**APP_env) -> a running Service; all are stopped at teardown."""
    started: list[Service] = []

    def start(database: Path | None = None, **env: str) -> Service:
        service = launch(tmp_path, database, **env)
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()
