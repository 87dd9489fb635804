"""Fixtures for the front door: gunicorn on a unix socket as the unit starts it, and throwaway
nginx instances rendered from the box's template (localbox.edge) in front of it.

gunicorn is shared by the module (it starts in about a second); each test renders and starts
its own nginx (milliseconds) with the limits and timeouts it needs, on a free 127.0.0.1 port.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from localbox import edge
from localbox.units import OFF_BOX
from service.publish import scrape
from tests.support import (
    ROOT,
    free_port,
    require_tool,
    stop,
    unit_command,
    unit_environment,
    wait_until,
)

SECRET = "Edge0123456789abcdefghijklmnopqrs"  # an origin secret's shape: 32+ letters and digits


@dataclass(frozen=True)
class Gunicorn:
    socket: Path
    stdout: Path
    stderr: Path

    def logs(self) -> list[dict[str, Any]]:
        lines = self.stdout.read_text().splitlines() + self.stderr.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


@dataclass(frozen=True)
class Front:
    """One nginx in front of the module's gunicorn."""

    port: int
    folder: Path

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        timeout: float = 5.0,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request on a fresh connection: status, headers (lower-cased names), body."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            answer = response.read()
            names = {name.lower(): value for name, value in response.getheaders()}
            return response.status, names, answer
        finally:
            connection.close()

    def access_log(self) -> list[dict[str, Any]]:
        lines = (self.folder / "access.log").read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def nginx_binary() -> str:
    return require_tool("nginx")


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    """gunicorn started as onebox.service's ExecStart says, bound to a unix socket."""
    run = tmp_path_factory.mktemp("gunicorn")
    sock = run / "gunicorn.sock"
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("APP_")},
        **unit_environment("onebox.service"),
        "APP_DATABASE": str(run / "onebox.db"),
        "PROMETHEUS_MULTIPROC_DIR": str(run / "metrics"),
        "APP_TRUST_PROXY": "true",
        **OFF_BOX,
    }
    stdout, stderr = run / "stdout.log", run / "stderr.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(
            [*unit_command("onebox.service"), "--bind", f"unix:{sock}"],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    try:
        wait_until(lambda: proc.poll() is not None or _ready(sock), what="gunicorn's socket")
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited: {stderr.read_text()[-2000:]}")
        yield Gunicorn(sock, stdout, stderr)
    finally:
        stop(proc, grace=35)


def _ready(sock: Path) -> bool:
    try:
        scrape.fetch(f"unix:{sock}:/api/health/ready", timeout=1)
    except OSError:
        return False
    return True


@pytest.fixture
def front(nginx_binary: str, gunicorn: Gunicorn, tmp_path: Path) -> Iterator[Callable[..., Front]]:
    """Factory: front(origin=None, **NginxConfig fields or APP_* settings) -> a running nginx."""
    with _Fronts(nginx_binary, gunicorn, tmp_path) as fronts:
        yield fronts.start


class _Fronts:
    def __init__(self, nginx: str, gunicorn: Gunicorn, tmp_path: Path) -> None:
        self.nginx, self.gunicorn, self.tmp_path = nginx, gunicorn, tmp_path
        self.stack: list[Any] = []

    def start(self, origin: str | None = None, settings: dict[str, str] | None = None,
              **fields: Any) -> Front:  # fmt: skip
        port = free_port()
        folder = self.tmp_path / f"nginx-{port}"
        folder.mkdir()
        config = edge.local_config(folder, port, self.gunicorn.socket, settings or {}, **fields)
        conf = edge.write_config(folder, config, origin)
        running = edge.running(self.nginx, conf, port)
        running.__enter__()
        self.stack.append(running)
        return Front(port, folder)

    def __enter__(self) -> _Fronts:
        return self

    def __exit__(self, *exc: object) -> None:
        for running in reversed(self.stack):
            running.__exit__(None, None, None)
