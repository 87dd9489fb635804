"""The data's moves between the single box's SQLite backups and PostgreSQL (topology ha).

to_postgres    the newest backup in S3 (or the one named), fetched and verified as a restore
               fetches it, brought to this code's schema, and copied table by table into
               PostgreSQL in one transaction; the row counts are compared before the commit.
from_postgres  one consistent read of PostgreSQL written into a fresh SQLite file, which is then
               backed up to S3 and verified like any other backup: the newest, so a single box
               restores it at its first boot.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import psycopg

from service.backup import commands, restore
from service.backup import s3 as bucket_io
from service.backup.guards import Refused
from service.db import SqliteStore
from service.migrations import MIGRATIONS, TABLES
from service.postgres import migrate_schema, redacted
from service.store import StoreError

Progress = Callable[..., None]  # progress(event, **fields): one line per step
# The way back's backups are named for where they came from: <time>-postgresql.sqlite.gz.
FROM_POSTGRES_HOST = "postgresql"


def to_postgres(
    cfg: commands.Settings,
    url: str,
    progress: Progress,
    key: str | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Load a verified SQLite backup into the PostgreSQL at `url`; refuse a target holding rows
    unless `force` (then its rows are replaced, in the same transaction)."""
    s3 = bucket_io.client("s3")
    chosen = commands.choose(s3, cfg.bucket, cfg.prefix, key)
    if chosen is None:
        raise Refused(f"no backup under s3://{cfg.bucket}/{cfg.prefix}/")
    with tempfile.TemporaryDirectory(prefix="onebox-move-") as work:
        verified = restore.fetch_verified(s3, cfg.bucket, chosen, Path(work))
        progress("move_backup_verified", key=chosen, rows=verified.rows)
        upgrade = SqliteStore(str(verified.path))  # an older backup: this code's schema first
        try:
            upgrade.migrate()
        finally:
            upgrade.close()
        with closing(sqlite3.connect(verified.path)) as source, _failures(url):
            rows = _into_postgres(source, url, progress, force)
    return {"event": "to_postgres_done", "key": chosen, "bucket": cfg.bucket, "rows": rows,
            "target": redacted(url)}  # fmt: skip


def _into_postgres(
    source: sqlite3.Connection, url: str, progress: Progress, force: bool
) -> dict[str, int]:
    where = redacted(url)
    with psycopg.connect(url) as target, target.transaction():
        migrate_schema(target, where)  # its lock is held to the commit: workers wait for it
        # Running services wait from here to the commit: nothing lands between check and copy.
        target.execute(f"LOCK TABLE {', '.join(TABLES)} IN ACCESS EXCLUSIVE MODE")
        present = {table: _count(target, table) for table in TABLES}
        # Users' states are the data; the other tables are the service's own bookkeeping (a
        # service already running counts its health checks there) and are replaced anyway.
        if present["user_states"] and not force:
            raise Refused(
                f"{where} already holds user states ({restore.format_rows(present)}); "
                "pass --force to replace every row"
            )
        target.execute(f"TRUNCATE {', '.join(TABLES)}")
        counts: dict[str, int] = {}
        for table in TABLES:
            columns = ", ".join(_columns(source, table))
            select = source.execute(f"SELECT {columns} FROM {table}")  # noqa: S608 (our names)
            with target.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in select:
                    copy.write_row(row)  # text COPY: SQLite's 0/1 reads as a boolean
            counts[table] = _count(target, table)
            expected = int(source.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608
            if counts[table] != expected:
                raise Refused(f"{table}: {counts[table]} rows copied, {expected} in the backup")
            progress("move_table_copied", table=table, rows=counts[table])
    return counts


def from_postgres(cfg: commands.Settings, url: str, progress: Progress) -> dict[str, Any]:
    """Write the PostgreSQL at `url` into a new SQLite backup in S3, and verify that backup."""
    with tempfile.TemporaryDirectory(prefix="onebox-move-") as work:
        path = Path(work) / "onebox.db"
        fresh = SqliteStore(str(path))
        try:
            fresh.migrate()
        finally:
            fresh.close()
        with _failures(url):
            rows = _out_of_postgres(url, path, progress)
        scratch = dataclasses.replace(cfg, database=path, state_file=str(Path(work) / "state"))
        done = commands.backup(scratch, host=FROM_POSTGRES_HOST)
        progress("move_backup_uploaded", key=done["key"], skipped=done["event"] != "backup_done")
    checked = commands.verify(cfg, done["key"])
    if checked["rows"] != rows:
        raise Refused(f"backup {done['key']} holds {checked['rows']}, PostgreSQL held {rows}")
    return {"event": "from_postgres_done", "key": done["key"], "bucket": cfg.bucket, "rows": rows,
            "source": redacted(url)}  # fmt: skip


def _out_of_postgres(url: str, path: Path, progress: Progress) -> dict[str, int]:
    where = redacted(url)
    with psycopg.connect(url) as source, closing(sqlite3.connect(path)) as target:
        # One snapshot for every table: a service still writing cannot tear the copy.
        source.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        version = _schema_version(source)
        if version != len(MIGRATIONS):
            raise Refused(
                f"{where}: schema version {version}, this code's is {len(MIGRATIONS)}; "
                "run this release's service on it once, or use the release that matches it"
            )
        counts: dict[str, int] = {}
        with target:  # one SQLite transaction: committed whole or not at all
            for table in TABLES:
                columns = _columns(target, table)
                marks = ", ".join("?" * len(columns))
                names = ", ".join(columns)
                rows = source.execute(f"SELECT {names} FROM {table}").fetchall()  # noqa: S608
                target.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)  # noqa: S608
                counts[table] = len(rows)
                progress("move_table_copied", table=table, rows=len(rows))
    return counts


def _schema_version(conn: psycopg.Connection[Any]) -> int:
    try:
        row = conn.execute("SELECT version FROM schema_version").fetchone()
    except psycopg.errors.UndefinedTable:
        return 0
    return int(row[0]) if row else 0


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})")]


def _count(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 (our names)
    return int(row[0]) if row else 0


@contextmanager
def _failures(url: str) -> Iterator[None]:
    """PostgreSQL's errors as refusals naming the database (never its password)."""
    try:
        yield
    except (psycopg.Error, StoreError) as exc:
        raise Refused(f"{redacted(url)}: {exc}") from exc
