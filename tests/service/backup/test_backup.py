"""`backup` against moto_server: encrypted, checksummed, verified, skipped when unchanged,
consistent while a writer keeps writing, and retention applied after each run."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from service import contract
from service.backup import commands, keys, state
from service.db import SqliteStore
from tests.service.backup.conftest import fill, run_cli


def user_ids(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as conn:
        return [row[0] for row in conn.execute("SELECT user_id FROM user_states ORDER BY 1")]


def test_backup_uploads_an_encrypted_object_with_checksums_and_row_counts(
    settings: commands.Settings, s3: Any
) -> None:
    result = commands.backup(settings, host="ip-10-0-0-1")
    head = s3.head_object(Bucket=settings.bucket, Key=result["key"], ChecksumMode="ENABLED")
    assert result["event"] == "backup_done"
    assert keys.parse_key(result["key"]) is not None
    assert result["key"].endswith("-ip-10-0-0-1.sqlite.gz")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["Metadata"] == {
        "raw-sha256": result["rawSha256"],
        "gz-sha256": result["gzSha256"],
        "raw-bytes": str(result["rawBytes"]),
        "rows": "daily_requests=0,service_meta=0,user_activity=0,user_states=50",
        "source-host": "ip-10-0-0-1",
    }
    assert head["ContentLength"] == result["gzBytes"]
    assert "ChecksumSHA256" in head  # S3 was asked for a SHA-256 checksum of the object


def test_an_unchanged_database_is_not_uploaded_again(settings: commands.Settings, s3: Any) -> None:
    first = commands.backup(settings, now=datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    second = commands.backup(settings, now=datetime(2026, 11, 23, 10, 5, tzinfo=UTC))
    listed = s3.list_objects_v2(Bucket=settings.bucket)["Contents"]
    assert second["event"] == "backup_skipped"
    assert second["key"] == first["key"]
    assert [item["Key"] for item in listed] == [first["key"]]


def test_a_changed_database_gets_a_new_key_that_sorts_after_the_old_one(
    settings: commands.Settings,
) -> None:
    first = commands.backup(settings, now=datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    fill(settings.database, 1, start=1000)
    second = commands.backup(settings, now=datetime(2026, 11, 23, 10, 5, tzinfo=UTC))
    assert second["event"] == "backup_done"
    assert second["key"] > first["key"]
    assert second["rows"]["user_states"] == 51


def test_success_is_recorded_in_the_state_file_for_the_publisher(
    settings: commands.Settings,
) -> None:
    result = commands.backup(settings)
    record = state.read(settings.state)
    assert settings.state == settings.database.parent / "backup-state.json"
    assert record is not None
    assert record["key"] == result["key"]
    assert record["rawSha256"] == result["rawSha256"]
    assert state.last_success(settings.state) == record["lastSuccessEpoch"]


def test_a_backup_taken_while_a_writer_runs_holds_every_acknowledged_row_and_no_gap(
    settings: commands.Settings, tmp_path: Path
) -> None:
    acknowledged: list[str] = []
    stop = threading.Event()
    store = SqliteStore(str(settings.database))

    def writer() -> None:
        for number in range(100_000, 120_000):  # bounded: ends by itself at worst
            if stop.is_set():
                return
            store.update_state(f"w{number}", {"isMuted": True}, "2026-11-23T10:00Z")
            acknowledged.append(f"w{number}")

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(acknowledged) < 200 and thread.is_alive():
            stop.wait(0.01)
        before = len(acknowledged)
        result = commands.backup(settings)
        after = len(acknowledged)
    finally:
        stop.set()
        thread.join(timeout=30)
        store.close()
    restored = tmp_path / "restored.db"
    commands.restore_database(
        commands.Settings(database=restored, bucket=settings.bucket), key=result["key"]
    )
    written = [uid for uid in user_ids(restored) if uid.startswith("w")]
    assert before >= 200
    assert written == acknowledged[: len(written)]  # a prefix: nothing missing in the middle
    assert before <= len(written) <= after + 1  # +1: committed but not yet acknowledged


def test_retention_runs_after_a_backup_and_keeps_the_newest_and_the_window(
    settings: commands.Settings, s3: Any
) -> None:
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    old = [keys.make_key("backups", now - timedelta(days=d), "old") for d in range(8, 20)]
    for key in [*old, "backups/notes.txt"]:
        s3.put_object(Bucket=settings.bucket, Key=key, Body=b"x")
    result = commands.backup(replace(settings, keep=3), now=now)
    remaining = {item["Key"] for item in s3.list_objects_v2(Bucket=settings.bucket)["Contents"]}
    assert remaining == {result["key"], old[0], old[1], "backups/notes.txt"}
    assert sorted(result["deleted"]) == sorted(old[2:])


def test_the_backup_event_line_is_json_with_the_key_and_checksums(
    settings: commands.Settings, aws_env: dict[str, str]
) -> None:
    env = {**aws_env, "APP_DATABASE": str(settings.database), "APP_BACKUP_BUCKET": settings.bucket}
    done = run_cli("backup", env=env)
    (line,) = done.stdout.splitlines()
    event = json.loads(line)
    assert done.returncode == 0, done.stderr
    assert event["event"] == "backup_done"
    assert event["key"].startswith("backups/")
    assert len(event["gzSha256"]) == 64


def test_a_backup_writes_its_success_time_for_node_exporters_textfile_collector(
    settings: commands.Settings, tmp_path: Path
) -> None:
    textfile = tmp_path / "collector" / "onebox_backup.prom"
    before = time.time()
    result = commands.backup(replace(settings, textfile=str(textfile)))
    (family,) = text_string_to_metric_families(textfile.read_text())
    (sample,) = family.samples
    assert (family.name, family.type, sample.labels) == (
        contract.PROM_BACKUP_LAST_SUCCESS,
        "gauge",
        {},
    )
    assert before <= sample.value <= time.time()
    assert sample.value == state.last_success(settings.state)
    assert result["textfile"] == str(textfile)
    assert [p.name for p in textfile.parent.iterdir()] == [textfile.name]  # no temporary left
    assert textfile.stat().st_mode & 0o777 == 0o644  # node_exporter is another user


def test_an_unwritable_textfile_is_reported_and_the_backup_still_counts(
    settings: commands.Settings, tmp_path: Path
) -> None:
    not_a_directory = tmp_path / "plain-file"
    not_a_directory.write_text("")
    result = commands.backup(replace(settings, textfile=str(not_a_directory / "x.prom")))
    assert result["event"] == "backup_done"
    assert str(not_a_directory) in result["textfileError"]
    assert state.last_success(settings.state) is not None
