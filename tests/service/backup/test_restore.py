"""`restore` and `verify` against moto_server: equal row for row, and nothing replaced unless
every check passes (a tampered, truncated or mislabelled object leaves the database as it was);
a first boot walks past a damaged newest backup to the one before it."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
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
from tests.service.backup.conftest import fill, run_cli


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in primary-key order."""
    with closing(sqlite3.connect(path)) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        query = 'SELECT * FROM "{}" ORDER BY 1'
        return {t: conn.execute(query.format(t)).fetchall() for t in tables}


def leftovers(directory: Path) -> list[str]:
    """Temporary files a restore left behind."""
    return [p.name for p in directory.iterdir() if p.name.startswith(".restore-")]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def backed_up(settings: commands.Settings) -> str:
    """The key of a backup of the 50-user database."""
    key: str = commands.backup(settings)["key"]
    return key


@pytest.fixture
def other(tmp_path: Path) -> Path:
    """A different, non-empty database that a bad restore must leave exactly as it is."""
    path = tmp_path / "other" / "onebox.db"
    fill(path, 3, start=900)
    return path


def rewrite(s3: Any, bucket: str, key: str, change: Any) -> None:
    """Replace an object's bytes with change(bytes), keeping its metadata (a tamperer's move)."""
    head = s3.head_object(Bucket=bucket, Key=key)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=bucket, Key=key, Body=change(body), Metadata=head["Metadata"])


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


def test_first_boot_with_an_empty_bucket_means_a_fresh_database(
    settings: commands.Settings, tmp_path: Path
) -> None:
    target = tmp_path / "fresh" / "onebox.db"
    result = commands.restore_database(replace(settings, database=target), if_missing=True)
    assert result["event"] == "restore_skipped"
    assert "no backup" in result["reason"]
    assert not target.exists()


def test_first_boot_restores_the_newest_backup_and_a_reboot_keeps_the_local_database(
    settings: commands.Settings, backed_up: str, tmp_path: Path
) -> None:
    target = tmp_path / "box" / "onebox.db"
    first = commands.restore_database(replace(settings, database=target), if_missing=True)
    fill(target, 1, start=700)  # the service writes after the first boot
    reboot = commands.restore_database(replace(settings, database=target), if_missing=True)
    assert first["event"] == "restore_done"
    assert reboot["event"] == "restore_skipped"
    assert len(dump(target)["user_states"]) == 51


def test_first_boot_reads_the_restore_bucket_when_one_is_given(
    settings: commands.Settings, backed_up: str, tmp_path: Path, s3: Any
) -> None:
    s3.create_bucket(Bucket=f"{settings.bucket}-new")
    moved = replace(
        settings,
        database=tmp_path / "moved.db",
        bucket=f"{settings.bucket}-new",
        restore_bucket=settings.bucket,
    )
    result = commands.restore_database(moved, if_missing=True)
    assert result["bucket"] == settings.bucket
    assert len(dump(moved.database)["user_states"]) == 50


def test_once_the_new_stack_has_backups_a_first_boot_ignores_the_bucket_it_started_from(
    settings: commands.Settings, backed_up: str, tmp_path: Path, s3: Any
) -> None:
    new_bucket = f"{settings.bucket}-own"
    s3.create_bucket(Bucket=new_bucket)
    moved = replace(settings, bucket=new_bucket, restore_bucket=settings.bucket)
    fill(moved.database, 7, start=800)  # the new stack wrote more, then backed up
    commands.backup(moved)
    replacement = replace(moved, database=tmp_path / "replacement.db")
    result = commands.restore_database(replacement, if_missing=True)
    assert result["bucket"] == new_bucket
    assert dump(replacement.database) == dump(moved.database)


def newer_backup(settings: commands.Settings, users: int = 5) -> str:
    """Write `users` more rows and back them up five minutes later: the newest backup's key."""
    fill(settings.database, users, start=600)
    key: str = commands.backup(settings, now=datetime.now(UTC) + timedelta(minutes=5))["key"]
    return key


def unknown_schema(settings: commands.Settings) -> str:
    """The newest backup comes from a newer release: a schema version this code does not know."""
    with closing(sqlite3.connect(settings.database)) as conn:
        conn.execute("INSERT INTO service_meta VALUES ('from_a_newer_release', 1)")
        conn.execute("PRAGMA user_version = 99")
        conn.commit()
    key: str = commands.backup(settings, now=datetime.now(UTC) + timedelta(minutes=5))["key"]
    return key


def damaged(change: Any) -> Any:
    def make(settings: commands.Settings, s3: Any) -> str:
        key = newer_backup(settings)
        rewrite(s3, settings.bucket, key, change)
        return key

    return make


NEWEST_DAMAGE = [
    pytest.param(damaged(lambda b: b[:-9] + bytes([b[-9] ^ 1]) + b[-8:]), id="tampered"),
    pytest.param(damaged(lambda b: b[: len(b) // 2]), id="truncated"),
    pytest.param(lambda settings, s3: unknown_schema(settings), id="unknown-schema"),
]


def refusals(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The restore_refused events logged during the test."""
    fields = [getattr(record, "fields", {}) for record in caplog.records]
    return [f for f in fields if f.get("event") == "restore_refused"]


@pytest.mark.parametrize("damage", NEWEST_DAMAGE)
def test_a_damaged_newest_backup_does_not_stop_a_first_boot_from_restoring_the_one_before(
    settings: commands.Settings,
    backed_up: str,
    s3: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    damage: Any,
) -> None:
    newest = damage(settings, s3)
    target = tmp_path / "box" / "onebox.db"
    with caplog.at_level(logging.WARNING):
        result = commands.restore_database(replace(settings, database=target), if_missing=True)
    assert result["event"] == "restore_done"
    assert (result["key"], result["refused"]) == (backed_up, [newest])
    assert len(dump(target)["user_states"]) == 50
    (refusal,) = refusals(caplog)
    assert refusal["key"] == newest
    assert refusal["bucket"] == settings.bucket
    assert refusal["reason"]
    assert leftovers(target.parent) == []


@pytest.mark.parametrize("damage", NEWEST_DAMAGE)
def test_an_explicit_restore_of_a_damaged_backup_is_still_refused(
    settings: commands.Settings, backed_up: str, s3: Any, other: Path, damage: Any
) -> None:
    newest = damage(settings, s3)
    before = digest(other)
    with pytest.raises((VerifyError, SnapshotError)):
        commands.restore_database(replace(settings, database=other), key=newest, force=True)
    assert digest(other) == before
    assert leftovers(other.parent) == []


def test_a_first_boot_with_no_sound_backup_refuses_instead_of_starting_empty(
    settings: commands.Settings, backed_up: str, s3: Any, tmp_path: Path
) -> None:
    newest = newer_backup(settings)
    for key in (backed_up, newest):
        rewrite(s3, settings.bucket, key, lambda b: b[: len(b) // 2])
    target = tmp_path / "box" / "onebox.db"
    with pytest.raises(commands.Refused, match="none of the 2 backups"):
        commands.restore_database(replace(settings, database=target), if_missing=True)
    assert not target.exists()
    assert leftovers(target.parent) == []


def test_the_first_boot_command_logs_each_refusal_as_a_json_line_then_restores(
    settings: commands.Settings, backed_up: str, s3: Any, tmp_path: Path, aws_env: dict[str, str]
) -> None:
    newest = damaged(lambda b: b[: len(b) // 2])(settings, s3)
    target = tmp_path / "box" / "onebox.db"
    env = {**aws_env, "APP_DATABASE": str(target), "APP_BACKUP_BUCKET": settings.bucket}
    done = run_cli("restore", "--if-missing", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["event"] for e in events] == ["restore_refused", "restore_done"]
    assert events[0]["key"] == newest
    assert "sha256" in events[0]["reason"]
    assert events[1]["key"] == backed_up
