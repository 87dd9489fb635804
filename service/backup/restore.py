"""Verified restores: nothing replaces the database until every check has passed.

A backup is downloaded into the target's own directory (so the final rename is atomic on one
filesystem), inflated no further than the raw size its metadata records (and the free space
allows), and its gzip SHA-256, raw SHA-256, integrity check, schema version and row counts are
compared with what this code and the metadata expect; only then is it renamed over the
database and the directory fsynced.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.backup import s3 as bucket_io
from service.backup import snapshot
from service.backup.s3 import VerifyError
from service.migrations import MIGRATIONS

# Space a restore leaves free for the service, the logs and the journal, whatever it claims.
DISK_RESERVE_BYTES = 256 * 1024 * 1024


class DatabaseBusy(Exception):
    """The target database is open in another process (stop onebox.service first)."""


@dataclass(frozen=True)
class Verified:
    """A downloaded backup that passed every check, as a raw SQLite file."""

    path: Path
    rows: dict[str, int]
    raw_sha256: str


def fetch_verified(s3: Any, bucket: str, key: str, workdir: Path) -> Verified:
    """Download `key` into `workdir` and check it against its metadata; raise VerifyError.

    One pass: the bytes are hashed and gunzipped as they arrive, so nothing but the raw file
    is written; then the integrity check and the row counts.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    where = f"s3://{bucket}/{key}"
    meta = bucket_io.metadata(s3, bucket, key)
    for field in ("gz-sha256", "raw-sha256", "raw-bytes", "rows"):
        if not meta.get(field):
            raise VerifyError(f"{where}: metadata {field!r} is missing; not our backup")
    limit = raw_limit(where, meta["raw-bytes"], shutil.disk_usage(workdir).free)
    raw = _temp(workdir, ".sqlite")
    try:
        gz_sha, raw_sha, _ = _gunzip(bucket_io.chunks(s3, bucket, key), raw, where, limit)
        if gz_sha != meta["gz-sha256"]:
            raise VerifyError(f"{where}: sha256 {gz_sha} != recorded {meta['gz-sha256']}")
        if raw_sha != meta["raw-sha256"]:
            raise VerifyError(f"{where}: raw sha256 {raw_sha} != recorded {meta['raw-sha256']}")
        rows = snapshot.inspect(raw)
        check_schema(raw, where)
        if format_rows(rows) != meta["rows"]:
            raise VerifyError(f"{where}: rows {format_rows(rows)} != recorded {meta['rows']}")
    except BaseException:
        raw.unlink(missing_ok=True)
        raise
    return Verified(raw, rows, raw_sha)


def raw_limit(where: str, recorded: str, free: int) -> int:
    """The bytes a backup may inflate to: its recorded raw size, if the disk can spare it.

    A sound backup inflates to exactly its recorded size, so a stream that goes past it cannot
    pass the raw checksum and is stopped there; the free space bounds a forged record.
    """
    try:
        size = int(recorded)
    except ValueError:
        raise VerifyError(f"{where}: metadata raw-bytes={recorded!r} is not a number") from None
    spare = free - DISK_RESERVE_BYTES
    if not 0 <= size <= spare:
        raise VerifyError(f"{where}: raw-bytes={size} does not fit in {max(spare, 0)} spare bytes")
    return size


def check_schema(raw: Path, where: str) -> None:
    """Refuse a database whose schema version this code does not know (a newer release's)."""
    with closing(sqlite3.connect(raw)) as conn:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if not 0 <= version <= len(MIGRATIONS):
        raise VerifyError(
            f"{where}: schema version {version} is not one this code knows (0..{len(MIGRATIONS)})"
        )


def _gunzip(chunks: Iterable[bytes], raw: Path, where: str, limit: int) -> tuple[str, str, int]:
    try:
        return snapshot.gunzip_stream(chunks, raw, limit)
    except snapshot.TooLarge as exc:
        # Past the recorded raw size the raw sha256 cannot match: stop before writing more.
        raise VerifyError(f"{where}: sha256 check impossible, decompression capped, {exc}") from exc
    except snapshot.SnapshotError as exc:
        # A damaged stream is a checksum failure as far as the caller is concerned.
        raise VerifyError(f"{where}: sha256 check impossible, {exc}") from exc


def install(verified: Path, database: Path) -> None:
    """Atomically replace `database` with `verified` (same directory), dropping its old WAL.

    The old database's WAL is first checkpointed into it, so removing -wal/-shm loses nothing
    even if we crash before the rename; a WAL left behind would be replayed onto the restored
    file and corrupt it. A database another process holds open is refused (DatabaseBusy).
    """
    if database.exists():
        _checkpoint(database)
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    verified.replace(database)
    _fsync_dir(database.parent)


def _checkpoint(database: Path) -> None:
    try:
        with closing(sqlite3.connect(database, timeout=1)) as conn:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            # The checkpoint only notices a transaction in progress; an idle connection (a
            # gunicorn worker between requests) would go on writing to the replaced file.
            # Leaving WAL mode needs sole access, so it fails while anyone has the file open.
            mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise DatabaseBusy(f"{str(database)!r} is in use: {exc}") from exc
        return  # not a usable database: nothing in it to preserve
    except sqlite3.DatabaseError:
        return  # corrupt or not SQLite: replacing it is the point of the restore
    if busy or mode != "delete":
        raise DatabaseBusy(f"{str(database)!r} is in use; stop onebox.service first")


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)  # makes the rename itself durable
    finally:
        os.close(fd)


def _temp(directory: Path, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(prefix=".restore-", suffix=suffix, dir=directory)
    os.close(fd)
    return Path(name)


def format_rows(rows: dict[str, int]) -> str:
    """Row counts as they are stored in object metadata: 'table=n,table=n' sorted by table."""
    return ",".join(f"{table}={count}" for table, count in sorted(rows.items()))


def has_data(database: Path) -> bool:
    """Whether `database` exists and is not empty (a reboot, not a first boot)."""
    return database.is_file() and database.stat().st_size > 0
