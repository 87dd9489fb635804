"""Health, liveness and readiness: the documented shape, what each probe may touch, and a
database file deleted, replaced or made read-only under the service."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.store import StoreUnavailable
from service.web import shutdown
from tests.service.conftest import Service

EACH_STORE = True  # tests/service/conftest.py: every test runs on SQLite and on PostgreSQL
EXPECTED = {"sqlite": ("SQLite", "WAL"), "postgresql": ("PostgreSQL", "read-write, server ")}


def break_database(app: Flask) -> None:
    """Make every store call fail as an unreachable database would."""

    def fail(*args: object, **kwargs: object) -> None:
        raise StoreUnavailable("disk I/O error")

    app.extensions["onebox"].store.ping = fail


def test_health_has_the_documented_shape(client: FlaskClient, store_kind: str) -> None:
    response = client.get("/api/health")
    body = response.get_json()
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert body["status"] == "ok"
    assert body["timestamp"].endswith("Z")
    assert isinstance(body["uptime"]["seconds"], int)
    assert body["uptime"]["formatted"].endswith("s")
    assert body["database"]["status"] == "connected"
    kind, mode = EXPECTED[store_kind]
    assert body["database"]["type"] == kind
    assert body["database"]["mode"].startswith(mode)
    assert body["database"]["latencyMs"] >= 0
    assert body["memory"]["rssMb"] > 0
    assert body["environment"] == "test"
    assert body["version"] == "dev"


def test_health_is_503_and_says_why_when_the_database_fails(app: Flask) -> None:
    break_database(app)
    response = app.test_client().get("/api/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "error"
    assert body["database"]["status"] == "error"
    assert "disk I/O error" in body["database"]["error"]


def test_liveness_never_touches_the_database(app: Flask) -> None:
    break_database(app)
    response = app.test_client().get("/api/health/live")
    assert response.status_code == 200
    assert response.get_json()["status"] == "alive"


def test_readiness_follows_the_database(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/api/health/ready").status_code == 200
    break_database(app)
    response = client.get("/api/health/ready")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"


def test_readiness_turns_503_as_soon_as_shutdown_begins(app: Flask) -> None:
    shutdown.begin(app)
    response = app.test_client().get("/api/health/ready")
    assert response.status_code == 503
    assert response.get_json()["status"] == "shutting_down"
    assert app.test_client().get("/api/health/live").status_code == 200


def test_closing_the_store_logs_the_shutdown_events_in_order(app: Flask, capsys) -> None:  # type: ignore[no-untyped-def]
    shutdown.close(app)
    out = capsys.readouterr().out
    assert out.index('"server_closed"') < out.index('"database_closed"')


def database_file(app: Flask) -> Path:
    return Path(app.config["DATABASE"])


@pytest.mark.sqlite_only
def test_readiness_is_503_naming_why_when_the_database_file_is_deleted(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/api/health/ready").status_code == 200  # the store has the file open
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database_file(app)}{suffix}").unlink(missing_ok=True)
    response = client.get("/api/health/ready")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"
    assert "is missing (deleted)" in response.get_json()["reason"]
    assert client.get("/api/health").status_code == 503  # the detailed check agrees


@pytest.mark.sqlite_only
def test_readiness_is_503_when_the_database_file_is_replaced(app: Flask, tmp_path: Path) -> None:
    client = app.test_client()
    assert client.get("/api/health/ready").status_code == 200
    shutil.copy(database_file(app), tmp_path / "copy.db")
    (tmp_path / "copy.db").replace(database_file(app))
    response = client.get("/api/health/ready")
    assert response.status_code == 503
    assert "was replaced under the service" in response.get_json()["reason"]


@contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """`path` made unwritable for real: read-only mode bits for a user; for root, who writes
    through mode bits, its folder bind-mounted read-only over itself (as a full or remounted
    disk would be)."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)
        return
    folder = str(path.parent)
    mounted = subprocess.run(["mount", "--bind", folder, folder], capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"root without mount privilege here: {mounted.stderr.decode().strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", folder], check=True, timeout=30)
        yield
    finally:
        subprocess.run(["umount", folder], check=True, timeout=30)


@pytest.mark.sqlite_only
def test_readiness_is_503_when_the_database_file_is_not_writable(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/api/health/ready").status_code == 200
    with unwritable(database_file(app)):
        response = client.get("/api/health/ready")
    assert response.status_code == 503
    assert "is not writable" in response.get_json()["reason"]
    assert client.get("/api/health/ready").status_code == 200  # writable again: ready again


def ready(service: Service) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"{service.url}/api/health/ready", timeout=5) as response:  # noqa: S310
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_gunicorn_workers_report_not_ready_once_the_database_file_is_deleted(
    start_service: Callable[..., Service],
) -> None:
    service = start_service()
    assert ready(service)[0] == 200
    # Both workers must have opened the database first: a worker that boots after the delete
    # opens the new, empty file as its own (that case is the data unit's, not readiness's).
    pids: set[int] = set()
    for _ in range(200):  # bounded: new connections reach both workers long before this
        with urllib.request.urlopen(f"{service.url}/api/metrics", timeout=5) as response:  # noqa: S310
            pids.add(json.loads(response.read())["system"]["pid"])
        if len(pids) == 2:
            break
    assert len(pids) == 2
    for suffix in ("", "-wal", "-shm"):
        Path(f"{service.database}{suffix}").unlink(missing_ok=True)
    answers: list[tuple[int, dict[str, object]]] = []
    for _ in range(20):  # new connections land on every worker
        answers.append(ready(service))
    assert {status for status, _ in answers} == {503}, [a for a in answers if a[0] != 503]
    # A request thread's new connection recreates an empty file at the path, so a worker sees
    # either no file or not its own; either way it is not ready.
    reasons = {str(body["reason"]).rpartition("' ")[2] for _, body in answers}
    assert reasons <= {"is missing (deleted)", "was replaced under the service"}, reasons
