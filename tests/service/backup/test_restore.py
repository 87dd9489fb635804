"""`restore` and `verify` against moto_server: equal row for row, and nothing replaced unless
every check passes (a tampered, truncated or mislabelled object leaves the database as it was)."""

from __future__ import annotations

import gzip
import hashlib
import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from service.backup import commands
from service.backup.restore import DatabaseBusy
from service.backup.s3 import VerifyError
from service.backup.snapshot import SnapshotError
from service.db import SqliteStore
from tests.service.backup.conftest import digest, dump, fill, leftovers, rewrite


def test_a_restore_equals_the_source_row_for_row(
    settings: commands.Settings, backed_up: str, tmp_path: Path
) -> None:
    target = tmp_path / "new" / "onebox.db"
    result = commands.restore_database(replace(settings, database=target))
    assert result["key"] == backed_up
    assert dump(target) == dump(settings.database)
    assert leftovers(target.parent) == []


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda b: b[:-9] + bytes([b[-9] ^ 1]) + b[-8:], id="one-bit-flipped"),
        pytest.param(lambda b: b[: len(b) // 2], id="truncated"),
        pytest.param(lambda b: gzip.compress(b"not a database" * 100), id="replaced"),
    ],
)
def test_a_tampered_or_truncated_object_is_refused_and_the_old_database_untouched(
    settings: commands.Settings, backed_up: str, other: Path, s3: Any, change: Any
) -> None:
    rewrite(s3, settings.bucket, backed_up, change)
    before = digest(other)
    with pytest.raises(VerifyError, match="sha256"):
        commands.restore_database(replace(settings, database=other), force=True)
    assert digest(other) == before
    assert leftovers(other.parent) == []


def test_an_object_whose_recorded_checksum_is_wrong_is_refused(
    settings: commands.Settings, backed_up: str, other: Path, s3: Any
) -> None:
    head = s3.head_object(Bucket=settings.bucket, Key=backed_up)
    meta = {**head["Metadata"], "raw-sha256": "0" * 64}
    s3.copy_object(
        Bucket=settings.bucket,
        Key=backed_up,
        CopySource={"Bucket": settings.bucket, "Key": backed_up},
        Metadata=meta,
        MetadataDirective="REPLACE",
    )
    with pytest.raises(VerifyError, match="raw sha256"):
        commands.restore_database(replace(settings, database=other), force=True)
    assert dump(other)["user_states"][0][0] == "u00900"


def test_a_sound_gzip_of_a_corrupt_database_fails_the_integrity_check(
    settings: commands.Settings, backed_up: str, s3: Any, tmp_path: Path
) -> None:
    raw = bytearray(
        gzip.decompress(s3.get_object(Bucket=settings.bucket, Key=backed_up)["Body"].read())
    )
    raw[4096 : 4096 + 12] = b"\xff" * 12  # scribble over the second page's b-tree header
    packed = gzip.compress(bytes(raw))
    meta = {
        **s3.head_object(Bucket=settings.bucket, Key=backed_up)["Metadata"],
        "raw-sha256": hashlib.sha256(raw).hexdigest(),
        "gz-sha256": hashlib.sha256(packed).hexdigest(),
    }
    s3.put_object(Bucket=settings.bucket, Key=backed_up, Body=packed, Metadata=meta)
    with pytest.raises((SnapshotError, VerifyError)):
        commands.verify(settings)


def test_restore_refuses_to_replace_a_non_empty_database_unless_forced(
    settings: commands.Settings, backed_up: str, other: Path
) -> None:
    with pytest.raises(commands.Refused, match="--force"):
        commands.restore_database(replace(settings, database=other))
    commands.restore_database(replace(settings, database=other), force=True)
    assert dump(other) == dump(settings.database)


def test_a_forced_restore_drops_the_old_write_ahead_log_after_checkpointing_it(
    settings: commands.Settings, backed_up: str, other: Path
) -> None:
    holder = sqlite3.connect(other)  # keeps other's -wal and -shm on disk
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("INSERT INTO service_meta VALUES ('only_in_the_wal', 1)")
    holder.commit()
    holder.close()
    fill(other, 1, start=950)
    commands.restore_database(replace(settings, database=other), force=True)
    assert not Path(f"{other}-wal").exists() or Path(f"{other}-wal").stat().st_size == 0
    assert dump(other) == dump(settings.database)


def test_a_database_held_open_by_a_writer_is_not_replaced(
    settings: commands.Settings, backed_up: str, other: Path
) -> None:
    with closing(sqlite3.connect(other, isolation_level=None)) as writer:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO service_meta VALUES ('in_flight', 1)")
        with pytest.raises(DatabaseBusy, match="in use"):
            commands.restore_database(replace(settings, database=other), force=True)
        writer.execute("COMMIT")
    assert ("in_flight", 1) in dump(other)["service_meta"]


def test_a_database_the_service_holds_open_between_requests_is_not_replaced(
    settings: commands.Settings, backed_up: str, other: Path
) -> None:
    store = SqliteStore(str(other))  # what a gunicorn worker holds: an idle open connection
    store.update_state("alice", {"isMuted": True}, "now")
    try:
        with pytest.raises(DatabaseBusy, match="in use"):
            commands.restore_database(replace(settings, database=other), force=True)
        store.update_state("carol", {"isMuted": True}, "later")  # still the live database
    finally:
        store.close()
    users = {row[0] for row in dump(other)["user_states"]}
    assert {"alice", "carol"} <= users


def test_a_named_backup_is_restored_instead_of_the_newest(
    settings: commands.Settings, backed_up: str, tmp_path: Path
) -> None:
    fill(settings.database, 5, start=500)
    newer = commands.backup(settings, now=datetime.now(UTC) + timedelta(minutes=5))["key"]
    target = tmp_path / "named.db"
    commands.restore_database(replace(settings, database=target), key=backed_up)
    assert newer != backed_up
    assert len(dump(target)["user_states"]) == 50


def test_verify_checks_a_backup_without_touching_the_database(
    settings: commands.Settings, backed_up: str
) -> None:
    before = digest(settings.database)
    result = commands.verify(settings)
    assert result["key"] == backed_up
    assert result["rows"]["user_states"] == 50
    assert digest(settings.database) == before
