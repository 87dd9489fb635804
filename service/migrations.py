"""The schema, as the migrations that build it, for SQLite and for PostgreSQL: each store applies
its own list; a store, a restore and the backup refuse a database whose schema version is newer
than these know."""

from __future__ import annotations

# Migration N (1-based) brings the schema from user_version N-1 to N. Append only.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE user_states (
        user_id      TEXT PRIMARY KEY,
        is_muted     INTEGER NOT NULL DEFAULT 0 CHECK (is_muted IN (0, 1)),
        device_id    TEXT,
        device_label TEXT,
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE user_activity (
        user_id   TEXT PRIMARY KEY,
        last_seen REAL NOT NULL
    );
    CREATE INDEX user_activity_last_seen ON user_activity (last_seen);
    CREATE TABLE service_meta (
        key   TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    """,
    # Requests and 5xx per UTC day, for the error budget: the in-memory counters restart with
    # the service, these rows do not.
    """
    CREATE TABLE daily_requests (
        day        TEXT PRIMARY KEY,
        requests   INTEGER NOT NULL DEFAULT 0,
        errors_5xx INTEGER NOT NULL DEFAULT 0
    );
    """,
)

# The same migrations for PostgreSQL, number for number: POSTGRES_MIGRATIONS[N-1] brings a
# PostgreSQL database to the version SQLite reaches with MIGRATIONS[N-1]. Times stay ISO 8601
# text, as in SQLite, so a row copied from one to the other reads back byte for byte.
POSTGRES_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE user_states (
        user_id      TEXT PRIMARY KEY,
        is_muted     BOOLEAN NOT NULL DEFAULT FALSE,
        device_id    TEXT,
        device_label TEXT,
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE user_activity (
        user_id   TEXT PRIMARY KEY,
        last_seen DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX user_activity_last_seen ON user_activity (last_seen);
    CREATE TABLE service_meta (
        key   TEXT PRIMARY KEY,
        value BIGINT NOT NULL
    );
    """,
    """
    CREATE TABLE daily_requests (
        day        TEXT PRIMARY KEY,
        requests   BIGINT NOT NULL DEFAULT 0,
        errors_5xx BIGINT NOT NULL DEFAULT 0
    );
    """,
)

# The tables every migration above creates, in the order a copy fills them (no foreign keys,
# so any order would do; one list keeps the copy and its checks in step with the schema).
TABLES: tuple[str, ...] = ("user_states", "user_activity", "service_meta", "daily_requests")
