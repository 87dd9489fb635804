"""SQLite implementation of `UserStateStore`: WAL, versioned migrations, no "database is locked".

Each thread gets its own connection (sqlite3 connections are not shared across threads).
Writes run inside `BEGIN IMMEDIATE`, which takes the write lock up front and waits for it up
to `busy_timeout`, so two workers writing at once queue instead of failing half-way with
SQLITE_BUSY on lock upgrade.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from service.logs import utc_timestamp
from service.migrations import MIGRATIONS
from service.store import ActiveUsers, StoreError, StoreFull, StoreUnavailable, UserState

_COLUMNS = {"isMuted": "is_muted", "deviceId": "device_id", "deviceLabel": "device_label"}
_UNAVAILABLE_CODES = {
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_CORRUPT,
    sqlite3.SQLITE_NOTADB,
}


def translate(exc: sqlite3.Error) -> StoreError:
    """Map a SQLite error onto the store's vocabulary (full, unavailable, or other)."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # extended codes carry the primary low
    if code == sqlite3.SQLITE_FULL:
        return StoreFull(str(exc))
    if code in _UNAVAILABLE_CODES:
        return StoreUnavailable(str(exc))
    return StoreError(str(exc))


class SqliteStore:
    kind = "SQLite"
    mode = "WAL"

    def __init__(
        self,
        path: str,
        busy_timeout_ms: int = 5000,
        pragmas: Mapping[str, int | str] | None = None,
    ) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self.extra_pragmas = dict(pragmas or {})
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._opened: tuple[int, int] | None = None  # (device, inode) of the file first opened
        Path(path).parent.mkdir(parents=True, exist_ok=True)

    # -- connections -------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout_ms / 1000,
            isolation_level=None,  # we issue BEGIN IMMEDIATE / COMMIT ourselves
            check_same_thread=False,  # used by one thread; closed by another at shutdown
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        # FULL: an acknowledged write survives power loss, not only a crash; writes are rare.
        conn.execute("PRAGMA synchronous = FULL")
        for name, value in self.extra_pragmas.items():
            conn.execute(f"PRAGMA {name} = {value}")
        return conn

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = self._connect()
            except sqlite3.Error as exc:
                raise translate(exc) from exc
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
                if self._opened is None:
                    self._opened = _identity(self.path)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                # SQLite rolls back by itself on some errors (SQLITE_FULL among them); a second
                # ROLLBACK would fail and hide the real cause.
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise translate(exc) from exc

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise translate(exc) from exc

    # -- schema ------------------------------------------------------------------------------

    def migrate(self) -> int:
        """Bring the schema to the newest version; safe to run from several workers at once."""
        conn = self._conn()
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            if int(conn.execute("PRAGMA user_version").fetchone()[0]) == len(MIGRATIONS):
                return len(MIGRATIONS)  # the common case takes no write lock
        except sqlite3.Error as exc:
            raise translate(exc) from exc
        with self._write() as tx:
            version = int(tx.execute("PRAGMA user_version").fetchone()[0])
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"{self.path}: schema version {version} is newer than this code "
                    f"({len(MIGRATIONS)}); refusing to run an old release on a new database"
                )
            for number in range(version + 1, len(MIGRATIONS) + 1):
                for statement in MIGRATIONS[number - 1].split(";"):
                    if statement.strip():
                        tx.execute(statement)
                tx.execute(f"PRAGMA user_version = {number}")
        return len(MIGRATIONS)

    # -- user state --------------------------------------------------------------------------

    def get_state(self, user_id: str) -> UserState | None:
        rows = self._read(
            "SELECT user_id, is_muted, device_id, device_label, updated_at"
            " FROM user_states WHERE user_id = ?",
            (user_id,),
        )
        return _state(rows[0]) if rows else None

    def update_state(
        self, user_id: str, changes: Mapping[str, object], now: str | None = None
    ) -> UserState:
        columns = [_COLUMNS[field] for field in changes]  # KeyError is a programming error
        values = [int(v) if isinstance(v, bool) else v for v in changes.values()]
        names = ", ".join(["user_id", *columns, "created_at", "updated_at"])
        marks = ", ".join("?" * (len(columns) + 3))
        updates = ", ".join([*(f"{c} = excluded.{c}" for c in columns), "updated_at = ?"])
        with self._write() as tx:
            # Read the clock only once the write lock is held: writes commit one at a time in
            # lock order, so updatedAt follows commit order (a time taken before BEGIN could be
            # older than a write that got the lock first).
            now = utc_timestamp() if now is None else now
            tx.execute(
                f"INSERT INTO user_states ({names}) VALUES ({marks})"  # noqa: S608 (names are ours)
                f" ON CONFLICT(user_id) DO UPDATE SET {updates}",
                (user_id, *values, now, now, now),
            )
            row = tx.execute(
                "SELECT user_id, is_muted, device_id, device_label, updated_at"
                " FROM user_states WHERE user_id = ?",
                (user_id,),
            ).fetchone()
        return _state(row)

    # -- activity ----------------------------------------------------------------------------

    def record_activity(self, user_ids: Mapping[str, float], since: float) -> ActiveUsers:
        with self._write() as tx:
            tx.executemany(
                "INSERT INTO user_activity (user_id, last_seen) VALUES (?, ?)"
                " ON CONFLICT(user_id) DO UPDATE SET"
                " last_seen = max(last_seen, excluded.last_seen)",
                list(user_ids.items()),
            )
            # Rows that left the window are never counted again: the table stays as small as
            # the number of users active at once.
            tx.execute("DELETE FROM user_activity WHERE last_seen <= ?", (since,))
            current = _count_active(tx, since)
            tx.execute(
                "INSERT INTO service_meta (key, value) VALUES ('peak_users', ?)"
                " ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
                (current,),
            )
            peak = tx.execute("SELECT value FROM service_meta WHERE key = 'peak_users'")
            return ActiveUsers(current=current, peak=int(peak.fetchone()[0]))

    def active_users(self, since: float) -> ActiveUsers:
        try:
            conn = self._conn()
            current = _count_active(conn, since)
            row = conn.execute("SELECT value FROM service_meta WHERE key = 'peak_users'").fetchone()
        except sqlite3.Error as exc:
            raise translate(exc) from exc
        return ActiveUsers(current=current, peak=max(current, int(row[0]) if row else 0))

    # -- daily request totals ----------------------------------------------------------------

    def add_daily_totals(self, totals: Mapping[str, tuple[int, int]]) -> None:
        """Add (requests, 5xx) to each UTC day's row (`YYYY-MM-DD`), in one transaction."""
        with self._write() as tx:
            tx.executemany(
                "INSERT INTO daily_requests (day, requests, errors_5xx) VALUES (?, ?, ?)"
                " ON CONFLICT(day) DO UPDATE SET requests = requests + excluded.requests,"
                " errors_5xx = errors_5xx + excluded.errors_5xx",
                [(day, requests, errors) for day, (requests, errors) in totals.items()],
            )

    def daily_totals(self, first_day: str) -> dict[str, tuple[int, int]]:
        """(requests, 5xx) of every stored day from `first_day` on (ISO dates sort as text)."""
        rows = self._read(
            "SELECT day, requests, errors_5xx FROM daily_requests WHERE day >= ?", (first_day,)
        )
        return {str(day): (int(str(req)), int(str(err))) for day, req, err in rows}

    # -- lifecycle ---------------------------------------------------------------------------

    def ping(self) -> None:
        """Answer a trivial query from the very file the store opened, which must be writable.

        Open connections keep answering from a file deleted or replaced under them, so the
        query alone would call such a store healthy while its writes go nowhere durable.
        """
        self._read("SELECT 1")
        self._check_file()

    def _check_file(self) -> None:
        path = Path(self.path)
        try:
            info = path.stat()
        except FileNotFoundError:
            raise StoreUnavailable(f"database file {self.path!r} is missing (deleted)") from None
        except OSError as exc:
            raise StoreUnavailable(f"database file {self.path!r}: {exc}") from exc
        if self._opened is not None and (info.st_dev, info.st_ino) != self._opened:
            raise StoreUnavailable(f"database file {self.path!r} was replaced under the service")
        if not (os.access(path, os.W_OK) and os.access(path.resolve().parent, os.W_OK)):
            raise StoreUnavailable(f"database file {self.path!r} or its directory is not writable")

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()
        self._opened = None


def _identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of the file at `path`; None if it vanished since it was opened."""
    try:
        info = Path(path).stat()
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _count_active(conn: sqlite3.Connection, since: float) -> int:
    row = conn.execute("SELECT count(*) FROM user_activity WHERE last_seen > ?", (since,))
    return int(row.fetchone()[0])


def _state(row: tuple[object, ...]) -> UserState:
    user_id, is_muted, device_id, device_label, updated_at = row
    return UserState(
        user_id=str(user_id),
        is_muted=bool(is_muted),
        device_id=None if device_id is None else str(device_id),
        device_label=None if device_label is None else str(device_label),
        updated_at=str(updated_at),
    )
