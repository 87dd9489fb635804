"""The baseline: the service's user routes on Flask and SQLite, without its instrumentation.

Same routes, same SQLite settings (WAL, synchronous=FULL, BEGIN IMMEDIATE, one connection per
thread) and the same upsert, so the difference to the real service under the same gunicorn
settings is what the service adds: request ids, JSON log lines, Prometheus metrics, activity
tracking, input validation, CORS and error handling.

Run: gunicorn ... 'bench.bare_app:create_app("var/bare.db")'   (gunicorn calls the factory)
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, jsonify, request

SCHEMA = """
CREATE TABLE IF NOT EXISTS user_states (
    user_id      TEXT PRIMARY KEY,
    is_muted     INTEGER NOT NULL DEFAULT 0,
    device_id    TEXT,
    device_label TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
)
"""
COLUMNS = {"isMuted": "is_muted", "deviceId": "device_id", "deviceLabel": "device_label"}
SELECT = (
    "SELECT user_id, is_muted, device_id, device_label, updated_at FROM user_states"
    " WHERE user_id = ?"
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _as_json(row: tuple[Any, ...]) -> dict[str, object]:
    keys = ("userId", "isMuted", "deviceId", "deviceLabel", "updatedAt")
    return {**dict(zip(keys, row, strict=True)), "isMuted": bool(row[1])}


def create_app(database: str) -> Flask:
    """The bare app on `database` (created if missing)."""
    app = Flask(__name__)
    local = threading.local()

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(database, timeout=5, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    def conn() -> sqlite3.Connection:
        if getattr(local, "conn", None) is None:
            local.conn = connect()
        current: sqlite3.Connection = local.conn
        return current

    with closing(connect()) as setup:
        setup.execute("PRAGMA journal_mode = WAL")
        setup.execute(SCHEMA)

    def write(userId: str) -> Response:
        body = request.get_json()
        changes = {COLUMNS[k]: int(v) if isinstance(v, bool) else v for k, v in body.items()}
        now = _now()
        names = ", ".join(["user_id", *changes, "created_at", "updated_at"])
        marks = ", ".join("?" * (len(changes) + 3))
        updates = ", ".join([*(f"{c} = excluded.{c}" for c in changes), "updated_at = ?"])
        db = conn()
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            f"INSERT INTO user_states ({names}) VALUES ({marks})"  # noqa: S608 (names are ours)
            f" ON CONFLICT(user_id) DO UPDATE SET {updates}",
            (userId, *changes.values(), now, now, now),
        )
        row = db.execute(SELECT, (userId,)).fetchone()
        db.execute("COMMIT")
        return jsonify(_as_json(row))

    app.add_url_rule("/api/users/<userId>/mute", "mute", write, methods=["PATCH"])
    app.add_url_rule("/api/users/<userId>/device", "device", write, methods=["PATCH"])
    app.add_url_rule("/api/users/<userId>/state", "update_state", write, methods=["POST"])

    @app.get("/api/users/<userId>/state")
    def get_state(userId: str) -> Response | tuple[Response, int]:
        row = conn().execute(SELECT, (userId,)).fetchone()
        if row is None:
            return jsonify(error="user_not_found"), 404
        return jsonify(_as_json(row))

    @app.get("/api/health/ready")
    def ready() -> Response:
        conn().execute("SELECT 1").fetchone()
        return jsonify(status="ready")

    return app
