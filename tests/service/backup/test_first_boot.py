"""The first boot's restore (`restore --if-missing`) against moto_server: a fresh database when
there is no backup, the restore bucket while the stack's own has none, and a walk past a damaged
newest backup to the newest one that verifies."""

from __future__ import annotations

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
from service.backup.s3 import VerifyError
from service.backup.snapshot import SnapshotError
from tests.service.backup.conftest import digest, dump, fill, leftovers, rewrite, run_cli


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
