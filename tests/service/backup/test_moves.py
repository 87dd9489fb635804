"""The data's moves between SQLite backups and PostgreSQL, against moto_server and a real server:
the newest backup loaded into PostgreSQL (refusing a non-empty target unless forced, and a
backup that fails its checks), and the way back to a backup a single box restores at boot."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from service.backup import commands, moves
from service.migrations import TABLES
from service.postgres import PostgresStore
from tests.service.backup.conftest import dump, rewrite, run_cli

Events = list[tuple[str, dict[str, Any]]]


def recorder() -> tuple[Events, moves.Progress]:
    events: Events = []

    def progress(event: str, **fields: Any) -> None:
        events.append((event, fields))

    return events, progress


def pg_rows(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in primary-key order, booleans as SQLite's 0/1."""
    with psycopg.connect(url) as conn:
        return {
            table: [
                tuple(int(v) if isinstance(v, bool) else v for v in row)
                for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1")  # noqa: S608
            ]
            for table in TABLES
        }


def test_the_newest_backup_is_loaded_into_postgresql_row_for_row(
    settings: commands.Settings, backed_up: str, postgres_url: str
) -> None:
    events, progress = recorder()
    result = moves.to_postgres(settings, postgres_url, progress)
    assert (result["key"], result["rows"]["user_states"]) == (backed_up, 50)
    assert pg_rows(postgres_url) == {
        t: rows for t, rows in dump(settings.database).items() if t in TABLES
    }
    copied = {
        fields["table"]: fields["rows"] for event, fields in events if event == "move_table_copied"
    }
    assert copied == result["rows"]
    store = PostgresStore(postgres_url)
    try:
        assert store.migrate() > 0  # the service starts on the loaded database as it is
        state = store.get_state("u00000")
    finally:
        store.close()
    assert state is not None and state.is_muted is True


def test_a_database_holding_rows_is_refused_unless_forced(
    settings: commands.Settings, backed_up: str, postgres_url: str
) -> None:
    store = PostgresStore(postgres_url)
    try:
        store.migrate()
        store.update_state("only-in-postgres", {"isMuted": True})
    finally:
        store.close()
    _, progress = recorder()
    with pytest.raises(commands.Refused, match="already holds user states"):
        moves.to_postgres(settings, postgres_url, progress)
    assert [row[0] for row in pg_rows(postgres_url)["user_states"]] == ["only-in-postgres"]
    moves.to_postgres(settings, postgres_url, progress, force=True)
    users = [row[0] for row in pg_rows(postgres_url)["user_states"]]
    assert len(users) == 50 and "only-in-postgres" not in users


def test_a_database_holding_only_the_services_bookkeeping_is_loaded(
    settings: commands.Settings, backed_up: str, postgres_url: str
) -> None:
    """ha's services start before the move and count their health checks: not user data."""
    store = PostgresStore(postgres_url)
    try:
        store.migrate()
        store.add_daily_totals({"2030-01-01": (5, 0)})
        store.record_activity({"probe": 1.0}, since=0.0)
    finally:
        store.close()
    _, progress = recorder()
    assert moves.to_postgres(settings, postgres_url, progress)["rows"]["user_states"] == 50
    rows = pg_rows(postgres_url)
    assert rows == {t: r for t, r in dump(settings.database).items() if t in TABLES}


def test_a_backup_that_fails_its_checks_writes_nothing(
    settings: commands.Settings, backed_up: str, postgres_url: str, s3: Any
) -> None:
    rewrite(s3, settings.bucket, backed_up, lambda body: body[:-8] + b"\0" * 8)
    _, progress = recorder()
    with pytest.raises(commands.VerifyError):
        moves.to_postgres(settings, postgres_url, progress)
    with psycopg.connect(postgres_url) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert tables.fetchone() == (0,)


def test_the_way_back_is_a_verified_backup_a_single_box_restores_at_first_boot(
    settings: commands.Settings, postgres_url: str, tmp_path: Path
) -> None:
    # The single box's last backup, an hour before the move back (keys name the second).
    backed_up = commands.backup(settings, now=datetime.now(UTC) - timedelta(hours=1))["key"]
    _, progress = recorder()
    moves.to_postgres(settings, postgres_url, progress)
    store = PostgresStore(postgres_url)
    try:
        store.update_state("joined-in-ha", {"deviceId": "d", "deviceLabel": "Desk"})
        store.record_activity({"joined-in-ha": 1000.0}, since=0.0)
        store.add_daily_totals({"2026-12-01": (10, 1)})
    finally:
        store.close()
    result = moves.from_postgres(settings, postgres_url, progress)
    assert result["key"] != backed_up
    assert commands.listing(settings)[0]["key"] == result["key"]  # the newest: restored at boot
    box = dataclasses.replace(settings, database=tmp_path / "new-box" / "onebox.db")
    assert commands.restore_database(box, if_missing=True)["key"] == result["key"]
    restored = dump(box.database)
    assert {t: restored[t] for t in TABLES} == pg_rows(postgres_url)
    assert len(restored["user_states"]) == 51


def test_the_command_line_prints_each_step_and_needs_a_database_url(
    settings: commands.Settings, backed_up: str, postgres_url: str, aws_env: dict[str, str]
) -> None:
    env = {**aws_env, "APP_DATABASE": str(settings.database), "APP_BACKUP_BUCKET": settings.bucket}
    missing = run_cli("to-postgres", env={**env, "APP_DATABASE_URL": ""})
    assert missing.returncode == 2
    assert "APP_DATABASE_URL" in missing.stdout
    done = run_cli("to-postgres", env={**env, "APP_DATABASE_URL": postgres_url})
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["event"] for line in lines] == [
        "move_backup_verified",
        *["move_table_copied"] * len(TABLES),
        "to_postgres_done",
    ]
    assert lines[-1]["rows"]["user_states"] == 50
    again = run_cli("to-postgres", env={**env, "APP_DATABASE_URL": postgres_url})
    assert again.returncode == 1
    assert "already holds user states" in json.loads(again.stdout.splitlines()[-1])["errorMessage"]
    back = run_cli("from-postgres", "--database-url", postgres_url, env=env)
    assert back.returncode == 0, back.stdout + back.stderr
    assert json.loads(back.stdout.splitlines()[-1])["event"] == "from_postgres_done"
