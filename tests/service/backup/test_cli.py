"""The command line as systemd runs it: exit codes 0/1/2, one JSON line on failure, bounded time
against a dead endpoint, and the list printed newest first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from service.backup import commands
from tests.aws import aws_environment
from tests.service.backup.conftest import fill, run_cli
from tests.support import free_port

# AWS_MAX_ATTEMPTS=2 keeps the dead-endpoint tests short; the bound itself comes from botocore.
DEAD = {**aws_environment(f"http://127.0.0.1:{free_port()}"), "AWS_MAX_ATTEMPTS": "2"}


def cli_env(settings: commands.Settings, aws: dict[str, str]) -> dict[str, str]:
    return {
        **aws,
        "APP_DATABASE": str(settings.database),
        "APP_BACKUP_BUCKET": settings.bucket,
    }


def failure_line(stdout: str) -> dict[str, object]:
    """The single JSON line a failed command prints."""
    (line,) = stdout.splitlines()
    event: dict[str, object] = json.loads(line)
    return event


def test_backup_with_a_dead_endpoint_fails_fast_with_exit_1_and_one_json_line(
    settings: commands.Settings,
) -> None:
    # run_cli's timeout is the bound: a hanging client would fail the test there.
    done = run_cli("backup", env=cli_env(settings, DEAD), timeout=60)
    event = failure_line(done.stdout)
    assert done.returncode == 1, done.stderr
    assert event["event"] == "backup_failed"
    assert event["error"] == "EndpointConnectionError"
    assert "127.0.0.1" in str(event["errorMessage"])


def test_first_boot_restore_with_a_dead_endpoint_keeps_the_service_down(
    settings: commands.Settings, tmp_path: Path
) -> None:
    env = {**cli_env(settings, DEAD), "APP_DATABASE": str(tmp_path / "new.db")}
    done = run_cli("restore", "--if-missing", env=env, timeout=60)
    assert done.returncode == 1
    assert failure_line(done.stdout)["event"] == "restore_failed"
    assert not (tmp_path / "new.db").exists()


def test_first_boot_restore_without_a_bucket_starts_fresh(tmp_path: Path) -> None:
    env = {**DEAD, "APP_DATABASE": str(tmp_path / "new.db"), "APP_BACKUP_BUCKET": ""}
    done = run_cli("restore", "--if-missing", env=env)
    assert done.returncode == 0
    assert failure_line(done.stdout)["event"] == "restore_skipped"


def test_usage_mistakes_exit_2(settings: commands.Settings, aws_env: dict[str, str]) -> None:
    env = cli_env(settings, aws_env)
    assert run_cli("frobnicate", env=env).returncode == 2
    assert run_cli("restore", "--nonsense", env=env).returncode == 2
    no_bucket = run_cli("backup", env={**env, "APP_BACKUP_BUCKET": ""})
    assert no_bucket.returncode == 2
    assert "APP_BACKUP_BUCKET" in str(failure_line(no_bucket.stdout)["error"])
    bad_keep = run_cli("backup", env={**env, "APP_BACKUP_KEEP": "0"})
    assert bad_keep.returncode == 2
    assert "APP_BACKUP_KEEP='0'" in str(failure_line(bad_keep.stdout)["error"])


def test_restore_over_a_live_database_without_force_exits_1_and_says_why(
    settings: commands.Settings, aws_env: dict[str, str]
) -> None:
    commands.backup(settings)
    done = run_cli("restore", env=cli_env(settings, aws_env))
    assert done.returncode == 1
    assert "--force" in str(failure_line(done.stdout)["errorMessage"])


def test_list_prints_time_size_and_age_newest_first(
    settings: commands.Settings, aws_env: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    older = commands.backup(settings, now=now - timedelta(days=2))["key"]
    fill(settings.database, 1, start=800)  # an unchanged database would be skipped
    newer = commands.backup(settings, now=now)["key"]
    done = run_cli("list", env=cli_env(settings, aws_env))
    lines = done.stdout.splitlines()
    assert done.returncode == 0
    assert [line.split()[-1] for line in lines] == [newer, older]
    assert "2d 0h" in lines[1]
    assert lines[0].startswith(now.strftime("%Y-%m-%dT"))
