"""Fixtures for the service: an app on a temporary database, and real gunicorn processes.

The app runs on SQLite, or on PostgreSQL too in a module that sets `EACH_STORE = True`: its
tests then run once per store (a test marked `sqlite_only` reaches into SQLite's file and runs
on SQLite alone). PostgreSQL is one throwaway server per session (localbox/postgres.py), and a
fresh database on it per test.

`start_service` starts gunicorn with the exact command line and environment that
service/deploy/onebox.service declares, with only the bind address, the database and the
metrics directory moved into the test's temporary directory.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from localbox import postgres
from localbox.units import OFF_BOX
from service.web import create_app, shutdown
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


STORE_KINDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: reaches into SQLite's file; not per store")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run the tests of an `EACH_STORE` module once per store (see the module's docstring)."""
    if "store_kind" not in metafunc.fixturenames:
        return
    each = getattr(metafunc.module, "EACH_STORE", False)
    if each and not metafunc.definition.get_closest_marker("sqlite_only"):
        metafunc.parametrize("store_kind", STORE_KINDS, indirect=True)


@pytest.fixture
def store_kind(request: pytest.FixtureRequest) -> str:
    kind: str = getattr(request, "param", "sqlite")
    return kind


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.Postgres]:
    """One PostgreSQL for the session; skipped (failed under CI) where none can start."""
    problem = postgres.missing()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required under CI: {problem}")
        pytest.skip(f"no PostgreSQL server here: {problem}")
    # Not pytest's tmp_path: its 0700 parents keep out the `postgres` user the server runs as.
    folder = Path(tempfile.mkdtemp(prefix="onebox-pg-"))
    folder.chmod(0o755)
    try:
        with ExitStack() as stack:
            with _log_handle_left_open():
                server = stack.enter_context(postgres.running(folder / "cluster"))
            yield server
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _log_handle_left_open() -> Iterator[None]:
    """Let `running` start the server: it hands postgres.log to the child without closing its
    own handle, and pytest would turn that handle's ResourceWarning into this fixture's error."""
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if not str(getattr(unraisable.object, "name", "")).endswith("postgres.log"):
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        gc.collect()
        sys.unraisablehook = previous


@contextmanager
def fresh_database(server: postgres.Postgres) -> Iterator[str]:
    """The URL of a new, empty database on `server`, dropped when the block ends."""
    import psycopg

    name = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield server.url.rpartition("/")[0] + f"/{name}"
    finally:
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def postgres_url(postgres_server: postgres.Postgres) -> Iterator[str]:
    """A database of the test's own."""
    with fresh_database(postgres_server) as url:
        yield url


def store_settings(request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> dict[str, str]:
    """The overrides that put an app on a fresh database of `kind`."""
    if kind == "postgresql":
        return {"DATABASE_URL": request.getfixturevalue("postgres_url")}
    return {"DATABASE": str(tmp_path / "app.db")}


@pytest.fixture
def app(request: pytest.FixtureRequest, store_kind: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app({**store_settings(request, store_kind, tmp_path), "ENV": "test"})
    yield app
    shutdown.close(app)  # as a worker closes: every batch written before its store closes


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
