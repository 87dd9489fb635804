"""Health on PostgreSQL, against a real server: readiness follows what the server says."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from flask import Flask

from service.web import create_app, shutdown
from tests.support import wait_until


@pytest.fixture
def pg_app(postgres_url: str) -> Iterator[Flask]:
    app = create_app({"DATABASE_URL": postgres_url, "ENV": "test"})
    yield app
    shutdown.close(app)


def admin(url: str, statement: str) -> None:
    """Run `statement` from the server's own database (not the app's)."""
    with psycopg.connect(url.rpartition("/")[0] + "/postgres", autocommit=True) as conn:
        conn.execute(statement.encode())


def cut_connections(url: str) -> None:
    """End every session on the database of `url` (the app's pooled connections)."""
    with psycopg.connect(url.rpartition("/")[0] + "/postgres", autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (url.rpartition("/")[2],),
        )


def test_health_names_postgresql_and_the_servers_mode(pg_app: Flask) -> None:
    database = pg_app.test_client().get("/api/health").get_json()["database"]
    with psycopg.connect(pg_app.config["DATABASE_URL"]) as conn:
        version = conn.execute("SHOW server_version").fetchone()
    assert version is not None
    assert database["type"] == "PostgreSQL"
    assert database["mode"] == f"read-write, server {version[0]}"


def test_readiness_is_503_once_the_database_cannot_be_reached(pg_app: Flask) -> None:
    client = pg_app.test_client()
    assert client.get("/api/health/ready").status_code == 200
    name = pg_app.config["DATABASE_URL"].rpartition("/")[2]
    # Its connections are cut and new ones refused, as when the server or network is gone.
    admin(pg_app.config["DATABASE_URL"], f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false")
    cut_connections(pg_app.config["DATABASE_URL"])
    try:
        response = client.get("/api/health/ready")  # the cut connection, or no new one
        assert response.status_code == 503
        assert response.get_json()["status"] == "unavailable"
        # No connection can be made now: a write waits for one (the pool's timeout), then 503.
        assert client.patch("/api/users/ana/mute", json={"isMuted": True}).status_code == 503
    finally:
        admin(pg_app.config["DATABASE_URL"], f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true")
    # Back: ready again once the pool's next reconnection attempt (it backs off) succeeds.
    wait_until(lambda: client.get("/api/health/ready").status_code == 200, 60, "ready again")


def test_readiness_is_503_on_a_read_only_server(pg_app: Flask) -> None:
    name = pg_app.config["DATABASE_URL"].rpartition("/")[2]
    admin(
        pg_app.config["DATABASE_URL"],
        f"ALTER DATABASE {name} SET default_transaction_read_only = on",
    )
    cut_connections(pg_app.config["DATABASE_URL"])
    client = pg_app.test_client()
    for _ in range(3):  # bounded: the cut connection fails once, its replacement is read-only
        response = client.get("/api/health/ready")
        if response.status_code == 503 and "read-only" in response.get_json()["reason"]:
            break
    assert response.status_code == 503
    assert "read-only" in response.get_json()["reason"]
    body = client.get("/api/health").get_json()
    assert body["database"]["mode"].startswith("read-only (transaction_read_only)")
