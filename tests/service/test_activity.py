"""Active users: who counts, what is written when, and a tracker whose size has a ceiling."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from contextlib import closing

import pytest
from flask import Flask

from service.store import ActiveUsers, StoreUnavailable
from service.web.activity import WINDOW_SECONDS, ActivityTracker

EACH_STORE = True  # tests/service/conftest.py: the app's tests run on SQLite and on PostgreSQL


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class RecordingStore:
    """Keeps every batch the tracker writes; fails while `failing` is set."""

    def __init__(self) -> None:
        self.batches: list[dict[str, float]] = []
        self.failing = False

    def record_activity(self, user_ids: Mapping[str, float], since: float) -> ActiveUsers:
        if self.failing:
            raise StoreUnavailable("database is locked")
        self.batches.append(dict(user_ids))
        return ActiveUsers(current=len(user_ids), peak=len(user_ids))

    def written(self) -> list[str]:
        return [user for batch in self.batches for user in batch]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> RecordingStore:
    return RecordingStore()


def tracker(store: RecordingStore, clock: Clock, **options: float) -> ActivityTracker:
    # A flush interval no test waits for: flushes happen only where a test asks for them.
    return ActivityTracker(store, clock=clock, flush_seconds=3600, **options)  # type: ignore[arg-type]


def test_users_are_batched_and_written_once_per_flush(store: RecordingStore, clock: Clock) -> None:
    seen = tracker(store, clock)
    for user in ["a", "b", "a", "c", "d"]:
        seen.seen(user)
    assert store.batches == []  # no request writes, a read or a write
    seen.flush()
    assert store.batches == [{"a": clock.now, "b": clock.now, "c": clock.now, "d": clock.now}]
    seen.close()


def test_a_user_is_written_again_only_after_the_resolution(
    store: RecordingStore, clock: Clock
) -> None:
    seen = tracker(store, clock, resolution=30)
    for step in (0, 29, 2):
        clock.now += step
        seen.seen("a")
        seen.flush()
    assert store.written() == ["a", "a"]
    seen.close()


def test_memory_is_bounded_by_the_users_of_the_last_resolution(
    store: RecordingStore, clock: Clock
) -> None:
    seen = tracker(store, clock, resolution=30)
    for n in range(20_000):  # 20k distinct users, 100 per second
        clock.now += 0.01
        seen.seen(f"user-{n}")
        if n % 1000 == 0:
            seen.flush()
    assert len(seen) <= 30 * 100 + 1000  # the last 30 s remembered, plus one unflushed batch
    seen.flush()
    assert len(set(store.written())) == 20_000  # and every user was written
    seen.close()


def test_memory_is_bounded_whatever_arrives_at_once(store: RecordingStore, clock: Clock) -> None:
    seen = tracker(store, clock, max_users=1000)
    for n in range(50_000):  # all in the same instant: nothing expires
        seen.seen(f"user-{n}")
    assert len(seen) <= 2 * 1000
    seen.close()


def test_a_failed_flush_keeps_the_batch_for_the_next_one(
    store: RecordingStore, clock: Clock
) -> None:
    seen = tracker(store, clock)
    seen.seen("a")
    store.failing = True
    seen.flush()
    store.failing = False
    seen.seen("b")
    seen.flush()
    assert sorted(store.written()) == ["a", "b"]
    seen.close()


def active_rows(app: Flask) -> int:
    query = "SELECT count(*) FROM user_activity"
    if app.config["DATABASE_URL"]:
        import psycopg

        with psycopg.connect(app.config["DATABASE_URL"]) as pg:
            row = pg.execute(query).fetchone()
            return int(row[0]) if row else 0
    with closing(sqlite3.connect(app.config["DATABASE"])) as conn:
        return int(conn.execute(query).fetchone()[0])


@pytest.mark.parametrize("method", ["OPTIONS", "HEAD"])
def test_preflights_and_heads_are_not_users(app: Flask, method: str) -> None:
    app.config["CORS_ORIGINS"] = ("*",)
    app.extensions["onebox"].store.update_state("h", {"isMuted": True}, "t")  # HEAD finds it
    client = app.test_client()
    for n in range(200):
        response = client.open(
            f"/api/users/{'h' if n == 0 else f'u{n}'}/state",
            method=method,
            headers={"Origin": "https://example.com"},
        )
        assert response.status_code < 500
    users = client.get("/api/metrics").get_json()["users"]
    assert users["current"] == 0 and users["capacityUsedPct"] == 0.0
    assert active_rows(app) == 0


def test_refused_and_missing_users_are_not_users(app: Flask) -> None:
    app.config["API_TOKEN"] = "s3cret"
    client = app.test_client()
    good = {"Authorization": "Bearer s3cret"}
    for n in range(50):
        assert client.patch(f"/api/users/x{n}/mute", json={"isMuted": True}).status_code == 401
        assert client.get(f"/api/users/y{n}/state").status_code == 401
        assert client.get(f"/api/users/y{n}/state", headers=good).status_code == 404
    assert client.get("/api/metrics", headers=good).get_json()["users"]["current"] == 0
    assert active_rows(app) == 0


def test_a_read_counts_as_soon_as_the_metrics_are_asked(app: Flask) -> None:
    client = app.test_client()
    app.extensions["onebox"].store.update_state("reader", {"isMuted": True}, "t")
    assert client.get("/api/users/reader/state").status_code == 200
    assert client.get("/api/metrics").get_json()["users"]["current"] == 1


def test_a_write_waits_in_the_batch_like_a_read(app: Flask) -> None:
    client = app.test_client()
    assert client.patch("/api/users/writer/mute", json={"isMuted": True}).status_code == 200
    assert active_rows(app) == 0  # a second transaction per write would cost more than it
    assert client.get("/api/metrics").get_json()["users"]["current"] == 1
    assert active_rows(app) == 1


def test_rows_that_left_the_window_are_deleted(app: Flask) -> None:
    store = app.extensions["onebox"].store
    store.record_activity({"old": 1.0}, since=0.0)
    store.record_activity({"new": 10_000.0}, since=10_000.0 - WINDOW_SECONDS)
    assert active_rows(app) == 1
