"""PostgreSQL implementation of `UserStateStore`, for several boxes on one database.

A pool of connections per gunicorn worker (psycopg_pool), opened when the worker builds its
app, after the fork, and closed at shutdown. Connections run in autocommit; every write is one
explicit transaction. Nothing is set per request: the session is whatever the URL says.

Ordering: `update_state` takes a per-user advisory lock inside its transaction, then reads the
database server's clock. Two writes to one user, from any process on any box, thus commit one
after the other, and the second reads the clock only after the first has committed: one
user's updatedAt values follow that user's commits, on one clock (the server's).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import psycopg.errors
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from service.migrations import POSTGRES_MIGRATIONS
from service.store import ActiveUsers, StoreError, StoreFull, StoreUnavailable, UserState

_COLUMNS = {"isMuted": "is_muted", "deviceId": "device_id", "deviceLabel": "device_label"}
# pg_advisory_xact_lock(int, int) keys: (this service's namespace, what is locked), and one
# namespace of per-user locks keyed by hashtext(user_id) (a collision only serializes two users).
LOCK_NAMESPACE, USER_LOCKS = 0x6F6E65, 0x6F6E66  # "one", "onf"
LOCK_MIGRATE, LOCK_ACTIVITY = 1, 2
# The database server's clock, formatted as service.logs.utc_timestamp formats the app's.
CLOCK = """to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""
_STATE = "user_id, is_muted, device_id, device_label, updated_at"
# Seconds a request waits for a pooled connection, and a new connection for the server.
POOL_TIMEOUT = 5.0
CONNECT_TIMEOUT = 5


def translate(exc: psycopg.Error) -> StoreError:
    """Map a psycopg error onto the store's vocabulary (full, unavailable, or other)."""
    if isinstance(exc, psycopg.errors.DiskFull):
        return StoreFull(str(exc))
    if isinstance(exc, psycopg.OperationalError | psycopg.errors.ReadOnlySqlTransaction):
        return StoreUnavailable(str(exc))  # no connection, server shutting down, read-only
    return StoreError(str(exc))


def redacted(url: str) -> str:
    """The URL without its password (in the user part or a `password=` parameter), for logs
    and messages."""
    parts = urlsplit(url)
    if parts.password is not None:
        host = parts.netloc.rpartition("@")[2]
        parts = parts._replace(netloc=f"{parts.username or ''}:***@{host}")
    query = [(k, "***" if k == "password" else v) for k, v in parse_qsl(parts.query, True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="/*")))


class PostgresStore:
    kind = "PostgreSQL"

    def __init__(self, url: str, pool_size: int = 4, timeout: float = POOL_TIMEOUT) -> None:
        self.url = url
        self.mode = "unknown"  # read-write or read-only, with the server's version: see ping()
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, **_defaults(url)},
            timeout=timeout,
            name="onebox",
            open=False,
        )
        self._pool.open(wait=False)  # connects in the background; errors surface on first use

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise translate(exc) from exc

    @contextmanager
    def _write(self) -> Iterator[psycopg.Connection[Any]]:
        """One transaction on a pooled connection. A connection the server cut (a restart, a
        failover) fails at BEGIN, before anything was written: it is dropped and another one
        taken, at most once per connection the pool may hold."""
        attempts = self._pool.max_size + 1
        for attempt in range(1, attempts + 1):
            try:
                with ExitStack() as stack:
                    conn = stack.enter_context(self._pool.connection())
                    try:
                        stack.enter_context(conn.transaction())  # sends BEGIN
                    except psycopg.OperationalError:
                        if attempt < attempts and conn.broken:
                            continue
                        raise
                    yield conn
                    return
            except psycopg.Error as exc:
                raise translate(exc) from exc

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of one query. A pooled connection the server cut (a restart, a failover) is
        dropped and the query sent again, as a read safely can be: at most once per connection
        the pool may hold, then on a new one."""
        attempts = self._pool.max_size + 1
        for attempt in range(1, attempts + 1):
            conn: psycopg.Connection[Any] | None = None
            try:
                with self._pool.connection() as conn:
                    return conn.execute(sql, params).fetchall()
            except psycopg.OperationalError as exc:
                if attempt == attempts or conn is None or not conn.broken:
                    raise translate(exc) from exc
            except psycopg.Error as exc:
                raise translate(exc) from exc
        raise AssertionError("unreachable")  # the last attempt returns or raises

    # -- schema ------------------------------------------------------------------------------

    def migrate(self) -> int:
        """Bring the schema to the newest version; safe from several workers and boxes at once."""
        with self._write() as tx:
            return migrate_schema(tx, redacted(self.url))

    # -- user state --------------------------------------------------------------------------

    def get_state(self, user_id: str) -> UserState | None:
        rows = self._read(f"SELECT {_STATE} FROM user_states WHERE user_id = %s", (user_id,))  # noqa: S608
        return _state(rows[0]) if rows else None

    def update_state(
        self, user_id: str, changes: Mapping[str, object], now: str | None = None
    ) -> UserState:
        columns = [_COLUMNS[field] for field in changes]  # KeyError is a programming error
        names = ", ".join(["user_id", *columns, "created_at", "updated_at"])
        marks = ", ".join(["%s"] * (len(columns) + 1) + ["clock.now", "clock.now"])
        updates = ", ".join(f"{c} = excluded.{c}" for c in [*columns, "updated_at"])
        clock = "%s::text" if now is not None else CLOCK
        sql = (
            f"WITH clock AS (SELECT {clock} AS now)"  # noqa: S608 (names are ours)
            f" INSERT INTO user_states ({names}) SELECT {marks} FROM clock"
            f" ON CONFLICT (user_id) DO UPDATE SET {updates} RETURNING {_STATE}"
        )
        params = ([now] if now is not None else []) + [user_id, *changes.values()]
        with self._write() as tx:
            # The lock first, the clock after: see the module's docstring.
            tx.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (USER_LOCKS, user_id))
            row = tx.execute(sql, params).fetchone()
        assert row is not None  # an upsert always returns its row
        return _state(row)

    # -- activity ----------------------------------------------------------------------------

    def record_activity(self, user_ids: Mapping[str, float], since: float) -> ActiveUsers:
        with self._write() as tx:
            # One batch at a time across the service: two batches upserting and deleting
            # overlapping rows in different orders could otherwise deadlock.
            tx.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, LOCK_ACTIVITY))
            with tx.cursor() as cur:
                cur.executemany(
                    "INSERT INTO user_activity (user_id, last_seen) VALUES (%s, %s)"
                    " ON CONFLICT (user_id) DO UPDATE SET"
                    " last_seen = greatest(user_activity.last_seen, excluded.last_seen)",
                    sorted(user_ids.items()),
                )
            tx.execute("DELETE FROM user_activity WHERE last_seen <= %s", (since,))
            current = _count_active(tx, since)
            peak = tx.execute(
                "INSERT INTO service_meta (key, value) VALUES ('peak_users', %s)"
                " ON CONFLICT (key) DO UPDATE SET"
                " value = greatest(service_meta.value, excluded.value) RETURNING value",
                (current,),
            ).fetchone()
        assert peak is not None
        return ActiveUsers(current=current, peak=int(peak[0]))

    def active_users(self, since: float) -> ActiveUsers:
        ((current, peak),) = self._read(
            "SELECT (SELECT count(*) FROM user_activity WHERE last_seen > %s),"
            " (SELECT value FROM service_meta WHERE key = 'peak_users')",
            (since,),
        )
        return ActiveUsers(current=int(current), peak=max(int(current), int(peak or 0)))

    # -- daily request totals ----------------------------------------------------------------

    def add_daily_totals(self, totals: Mapping[str, tuple[int, int]]) -> None:
        """Add (requests, 5xx) to each UTC day's row (`YYYY-MM-DD`), in one transaction."""
        with self._write() as tx, tx.cursor() as cur:
            cur.executemany(  # days in order: two workers' batches lock rows in the same order
                "INSERT INTO daily_requests (day, requests, errors_5xx) VALUES (%s, %s, %s)"
                " ON CONFLICT (day) DO UPDATE SET"
                " requests = daily_requests.requests + excluded.requests,"
                " errors_5xx = daily_requests.errors_5xx + excluded.errors_5xx",
                [(day, req, err) for day, (req, err) in sorted(totals.items())],
            )

    def daily_totals(self, first_day: str) -> dict[str, tuple[int, int]]:
        """(requests, 5xx) of every stored day from `first_day` on (ISO dates sort as text)."""
        rows = self._read(
            "SELECT day, requests, errors_5xx FROM daily_requests WHERE day >= %s", (first_day,)
        )
        return {str(day): (int(req), int(err)) for day, req, err in rows}

    # -- lifecycle ---------------------------------------------------------------------------

    def ping(self) -> None:
        """Ask the server whether it takes writes; raise StoreUnavailable unless it does.

        A replica in recovery, or a server set read-only, answers queries but would refuse
        every write: reporting it healthy would send users to a box that cannot serve them.
        """
        (row,) = self._read(
            "SELECT pg_is_in_recovery(), current_setting('transaction_read_only'),"
            " current_setting('server_version')"
        )
        in_recovery, read_only, version = row
        if in_recovery:
            self.mode = f"read-only (in recovery), server {version}"
        elif read_only == "on":
            self.mode = f"read-only (transaction_read_only), server {version}"
        else:
            self.mode = f"read-write, server {version}"
            return
        raise StoreUnavailable(f"the database is {self.mode.partition(',')[0]}")

    def close(self) -> None:
        self._pool.close(timeout=POOL_TIMEOUT)


def _defaults(url: str) -> dict[str, object]:
    """Connection settings the URL leaves out: a bounded connect (libpq's default waits on)."""
    given = conninfo_to_dict(url)
    return {} if "connect_timeout" in given else {"connect_timeout": CONNECT_TIMEOUT}


def migrate_schema(tx: psycopg.Connection[Any], where: str) -> int:
    """Apply the missing migrations inside the caller's transaction, under an advisory lock.

    DDL is transactional in PostgreSQL: a start applies what is missing in one transaction, and
    a second worker waits on the lock, then finds it done. The lock is held until the caller's
    transaction ends (a data move copies its rows under it). A database newer than this code is
    refused, as SQLite's is.
    """
    newest = len(POSTGRES_MIGRATIONS)
    tx.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, LOCK_MIGRATE))
    tx.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = tx.execute("SELECT version FROM schema_version").fetchone()
    version = int(row[0]) if row else 0
    if version > newest:
        raise StoreError(
            f"{where}: schema version {version} is newer than this code ({newest}); "
            "refusing to run an old release on a new database"
        )
    for number in range(version + 1, newest + 1):
        tx.execute(POSTGRES_MIGRATIONS[number - 1].encode())  # no parameters: a script
    if row is None:
        tx.execute("INSERT INTO schema_version (version) VALUES (%s)", (newest,))
    elif version != newest:
        tx.execute("UPDATE schema_version SET version = %s", (newest,))
    return newest


def _count_active(conn: psycopg.Connection[Any], since: float) -> int:
    row = conn.execute("SELECT count(*) FROM user_activity WHERE last_seen > %s", (since,))
    found = row.fetchone()
    return int(found[0]) if found else 0


def _state(row: tuple[Any, ...]) -> UserState:
    user_id, is_muted, device_id, device_label, updated_at = row
    return UserState(
        user_id=str(user_id),
        is_muted=bool(is_muted),
        device_id=device_id,
        device_label=device_label,
        updated_at=str(updated_at),
    )
