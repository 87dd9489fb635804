"""The SQLite store: WAL, versioned migrations, full disk and read-only database as JSON 5xx."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from service.db import SqliteStore
from service.migrations import MIGRATIONS
from service.store import StoreError
from service.web import create_app


def open_db(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path)


def app_on(path: Path, **pragmas: int) -> Flask:
    """The app on the database at `path`, with `pragmas` set on each connection."""
    return create_app({"DATABASE": str(path), "ENV": "test", "DATABASE_PRAGMAS": pragmas or None})


def with_a_kept_user(path: Path) -> Path:
    """A database at `path` holding one user, "kept", muted; the app that wrote it is closed."""
    writer = app_on(path)
    writer.test_client().patch("/api/users/kept/mute", json={"isMuted": True})
    writer.extensions["onebox"].store.close()
    return path


def test_the_database_is_in_wal_mode_at_the_newest_schema_version(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "s.db"))
    assert store.migrate() == len(MIGRATIONS)
    store.close()
    with closing(open_db(tmp_path / "s.db")) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "user_states" in tables


def test_migrations_run_only_the_steps_a_database_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with closing(open_db(path)) as conn:
        conn.executescript(MIGRATIONS[0])
        conn.execute("PRAGMA user_version = 1")
        conn.execute(
            "INSERT INTO user_states VALUES ('old', 1, NULL, NULL, '2025-01-01', '2025-01-01')"
        )
        conn.commit()
    store = SqliteStore(str(path))
    assert store.migrate() == len(MIGRATIONS)
    state = store.get_state("old")
    store.close()
    assert state is not None and state.is_muted is True


def test_an_old_release_refuses_a_database_from_a_newer_one(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with closing(open_db(path)) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    store = SqliteStore(str(path))
    with pytest.raises(StoreError, match="newer than this code"):
        store.migrate()
    store.close()


def test_a_full_disk_is_a_json_507_reads_keep_working_and_nothing_is_half_written(
    tmp_path: Path,
) -> None:
    path = with_a_kept_user(tmp_path / "full.db")
    with closing(open_db(path)) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    # max_page_count caps the file where it is: the next page the database needs is "disk full".
    app = app_on(path, max_page_count=pages)
    client = app.test_client()
    statuses = []
    for n in range(200):  # bounded: a few pages of long labels fill the cap
        response = client.post(f"/api/users/u{n}/state", json={"deviceLabel": "x" * 250})
        statuses.append(response.status_code)
        if response.status_code != 200:
            break
    assert statuses[-1] == 507
    assert response.get_json()["error"] == "insufficient_storage"
    assert client.get(f"/api/users/u{n}/state").status_code == 404  # the failed write left nothing
    assert client.get("/api/users/kept/state").get_json()["isMuted"] is True
    assert client.get("/api/health").status_code == 200
    app.extensions["onebox"].store.close()


def test_a_read_only_database_is_a_json_503_with_retry_after_and_reads_keep_working(
    tmp_path: Path,
) -> None:
    app = app_on(with_a_kept_user(tmp_path / "ro.db"), query_only=1)
    client = app.test_client()
    response = client.patch("/api/users/kept/mute", json={"isMuted": False})
    assert response.status_code == 503
    assert response.get_json()["error"] == "database_unavailable"
    assert response.headers["Retry-After"] == "5"
    assert client.get("/api/users/kept/state").get_json()["isMuted"] is True
    app.extensions["onebox"].store.close()


def test_two_stores_writing_at_once_never_see_database_is_locked(tmp_path: Path) -> None:

    path = str(tmp_path / "busy.db")
    stores = [SqliteStore(path), SqliteStore(path)]
    stores[0].migrate()
    errors: list[Exception] = []

    def write(store: SqliteStore, who: str) -> None:
        try:
            for n in range(150):
                store.update_state(f"{who}{n % 5}", {"deviceLabel": str(n)}, "t")
        except StoreError as exc:
            errors.append(exc)

    run_writers(write, stores, [f"w{i}-" for i in range(len(stores))])
    assert errors == []
    with closing(open_db(Path(path))) as conn:
        assert conn.execute("SELECT count(*) FROM user_states").fetchone()[0] == 10


def test_updated_at_follows_the_order_in_which_concurrent_writes_commit(tmp_path: Path) -> None:

    path = tmp_path / "order.db"
    stores = [SqliteStore(str(path)) for _ in range(6)]
    stores[0].migrate()

    def write(store: SqliteStore, who: int) -> None:
        for n in range(40):
            store.update_state(f"w{who}-{n}", {"deviceLabel": str(n)})

    run_writers(write, stores, list(range(len(stores))))
    # Each write inserts a new user, and a new row's rowid is one more than the largest at its
    # commit (writes hold the lock one at a time): rowid order is commit order.
    with closing(open_db(path)) as conn:
        stamps = [
            row[0] for row in conn.execute("SELECT updated_at FROM user_states ORDER BY rowid")
        ]
    assert len(stamps) == 6 * 40
    assert stamps == sorted(stamps)


def run_writers(write: Any, stores: list[SqliteStore], names: list[Any]) -> None:
    """`write(store, name)` on a thread per store, all at once; then every store is closed."""
    import threading

    pairs = zip(stores, names, strict=True)
    threads = [threading.Thread(target=write, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for store in stores:
        store.close()
