"""Which store the app runs on: PostgreSQL when APP_DATABASE_URL is set, else SQLite."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from service.db import SqliteStore

if TYPE_CHECKING:
    from service.postgres import PostgresStore

    Store = SqliteStore | PostgresStore


def open_store(settings: Mapping[str, Any]) -> Store:
    """The store the settings name, its schema brought up to date (closed again on failure)."""
    store: Store
    if settings["DATABASE_URL"]:
        # Only then: a single box never imports psycopg.
        from service.postgres import PostgresStore

        store = PostgresStore(settings["DATABASE_URL"], pool_size=settings["DATABASE_POOL_SIZE"])
    else:
        store = SqliteStore(
            settings["DATABASE"],
            busy_timeout_ms=settings["DB_BUSY_TIMEOUT_MS"],
            pragmas=settings.get("DATABASE_PRAGMAS"),
        )
    try:
        store.migrate()
    except BaseException:
        store.close()
        raise
    return store
