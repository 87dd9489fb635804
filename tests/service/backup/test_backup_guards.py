"""A backup refuses a database file deleted or replaced under the service, so an empty or foreign
file never becomes the newest backup; a file a restore put there is accepted."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from service.backup import commands
from service.db import SqliteStore
from tests.service.backup.conftest import fill, run_cli


def delete(database: Path) -> None:
    """What `rm` does to the database, WAL files included."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)


def keys(s3: Any, bucket: str) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


@pytest.fixture
def backed_up(settings: commands.Settings) -> str:
    key: str = commands.backup(settings)["key"]
    return key


def test_a_deleted_database_is_refused_and_nothing_is_uploaded(
    settings: commands.Settings, backed_up: str, s3: Any
) -> None:
    delete(settings.database)
    with pytest.raises(commands.Refused, match="is missing"):
        commands.backup(settings)
    assert keys(s3, settings.bucket) == [backed_up]
    assert not settings.database.exists()


def test_a_database_recreated_empty_under_the_service_is_refused(
    settings: commands.Settings, backed_up: str, s3: Any
) -> None:
    service = SqliteStore(str(settings.database))  # holds the old file open, as workers do
    service.update_state("alice", {"isMuted": True}, "now")
    try:
        delete(settings.database)
        fill(settings.database, 0)  # a new worker opens the path: a fresh, empty database
        with pytest.raises(commands.Refused, match="replaced under the service"):
            commands.backup(settings)
    finally:
        service.close()
    assert keys(s3, settings.bucket) == [backed_up]


def test_an_empty_database_never_becomes_the_newest_backup_even_without_a_record(
    settings: commands.Settings, backed_up: str, s3: Any, tmp_path: Path
) -> None:
    delete(settings.database)
    fill(settings.database, 0)
    forgetful = replace(settings, state_file=str(tmp_path / "new-state.json"))
    with pytest.raises(commands.Refused, match="is empty but the newest backup"):
        commands.backup(forgetful)
    assert keys(s3, settings.bucket) == [backed_up]


def test_a_database_replaced_by_another_file_is_refused(
    settings: commands.Settings, backed_up: str, s3: Any, tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger.db"
    fill(stranger, 3, start=900)
    shutil.copy(stranger, tmp_path / "copy.db")
    (tmp_path / "copy.db").replace(settings.database)
    with pytest.raises(commands.Refused, match="not the file last backed up or restored"):
        commands.backup(settings)
    assert keys(s3, settings.bucket) == [backed_up]


def test_a_restored_database_is_backed_up_as_usual(
    settings: commands.Settings, backed_up: str, tmp_path: Path
) -> None:
    box = replace(settings, database=tmp_path / "box" / "onebox.db")
    commands.restore_database(box, if_missing=True)  # a new inode, remembered for the backup
    fill(box.database, 2, start=700)
    assert commands.backup(box)["event"] == "backup_done"
    fill(settings.database, 1, start=800)  # the source keeps its own record and goes on too
    assert commands.backup(settings)["event"] == "backup_done"


def test_the_backup_command_says_why_in_one_json_line(
    settings: commands.Settings, backed_up: str, aws_env: dict[str, str]
) -> None:
    delete(settings.database)
    env = {**aws_env, "APP_DATABASE": str(settings.database), "APP_BACKUP_BUCKET": settings.bucket}
    done = run_cli("backup", env=env)
    (line,) = done.stdout.splitlines()
    event = json.loads(line)
    assert done.returncode == 1
    assert (event["event"], event["error"]) == ("backup_failed", "Refused")
    assert "deleted under the service" in event["errorMessage"]


def test_a_drill_restoring_into_a_scratch_file_leaves_the_live_record_alone(
    settings: commands.Settings, backed_up: str, tmp_path: Path
) -> None:
    shared = replace(settings, state_file=str(settings.state))  # APP_BACKUP_STATE, as on the box
    drill = replace(shared, database=tmp_path / "drill.db")
    commands.restore_database(drill)
    shutil.copy(drill.database, tmp_path / "copy.db")
    (tmp_path / "copy.db").replace(settings.database)  # the live file is still watched
    with pytest.raises(commands.Refused, match="replaced under the service"):
        commands.backup(shared)
