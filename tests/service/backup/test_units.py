"""The backup and publisher units: valid for systemd, ordered around onebox.service, and running
commands our own CLIs accept (run here against moto_server exactly as written in the unit)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service import contract
from service.backup import __main__ as backup_cli
from service.backup import commands
from service.contract import (
    BACKUP_TIMER,
    BACKUP_UNIT,
    BOX_PYTHON,
    DATA_UNIT,
    PUBLISH_UNIT,
    WEB_UNIT,
)
from tests.service.backup.conftest import fill
from tests.support import DEPLOY, require_tool, unit_directives

UNITS = (DATA_UNIT, BACKUP_UNIT, BACKUP_TIMER)
PUBLISHER = PUBLISH_UNIT


def fake_root(tmp_path: Path) -> Path:
    """A root where systemd-analyze finds its own units, ours, and the box's python."""
    root = tmp_path / "root"
    python = root / BOX_PYTHON.lstrip("/")
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    system = Path("/usr/lib/systemd/system")
    if not system.is_dir():
        system = Path("/lib/systemd/system")
    shutil.copytree(system, root / "usr/lib/systemd/system", symlinks=True)
    shutil.copytree(DEPLOY, root / "etc/systemd/system")
    return root


def test_systemd_analyze_verify_finds_nothing_to_say_about_our_units(tmp_path: Path) -> None:
    tool = require_tool("systemd-analyze")
    root = fake_root(tmp_path)
    done = subprocess.run(
        [tool, "verify", f"--root={root}", *UNITS, PUBLISHER],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""  # verify only warns (exit 0) on unknown or bad settings


def test_the_data_unit_starts_before_and_stops_after_the_web_service() -> None:
    assert WEB_UNIT in unit_directives(DATA_UNIT, "Before")[0].split()
    assert unit_directives(DATA_UNIT, "RequiredBy") == [WEB_UNIT]
    assert unit_directives(DATA_UNIT, "RemainAfterExit") == ["yes"]
    assert "network-online.target" in unit_directives(DATA_UNIT, "After")[0]


def test_the_timer_backs_up_every_contract_interval_and_catches_up_after_downtime() -> None:
    (calendar,) = unit_directives(contract.BACKUP_TIMER, "OnCalendar")
    step = re.fullmatch(r"\*-\*-\* \*:00/(\d+):00", calendar)
    assert step, calendar  # every N minutes from the full hour
    assert int(step.group(1)) * 60 == contract.BACKUP_EVERY_SECONDS
    assert unit_directives(BACKUP_TIMER, "Persistent") == ["true"]
    assert unit_directives(BACKUP_UNIT, "Requisite") == [DATA_UNIT]


@pytest.mark.parametrize(
    ("unit", "key"),
    [
        (DATA_UNIT, "ExecStart"),
        (DATA_UNIT, "ExecStop"),
        (BACKUP_UNIT, "ExecStart"),
    ],
)
def test_every_backup_command_in_a_unit_is_one_our_cli_accepts(unit: str, key: str) -> None:
    (line,) = unit_directives(unit, key)
    argv = shlex.split(line)
    assert argv[:3] == [BOX_PYTHON, "-m", "service.backup"]
    backup_cli.parser().parse_args(argv[3:])  # exits 2 (fails the test) on a bad flag


@pytest.mark.parametrize("unit", [*UNITS[:2], PUBLISHER])
def test_our_services_run_as_onebox_from_the_release_directory(unit: str) -> None:
    assert unit_directives(unit, "User") == ["onebox"]
    assert unit_directives(unit, "WorkingDirectory") == ["/opt/onebox/current"]
    assert unit_directives(unit, "ProtectSystem") == ["strict"]
    assert unit_directives(unit, "EnvironmentFile") == ["-/etc/onebox/onebox.env"]


def test_the_publisher_may_read_proc_meminfo() -> None:
    assert unit_directives(PUBLISHER, "ProcSubset") == []
    assert unit_directives(PUBLISHER, "Restart") == ["always"]


def run_unit_line(unit: str, key: str, env: dict[str, str]) -> dict[str, object]:
    """Run a unit's Exec line with this venv's python; its one JSON event line."""
    (line,) = unit_directives(unit, key)
    argv = [sys.executable, *shlex.split(line)[1:]]
    done = subprocess.run(
        argv,
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=DEPLOY.parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    event: dict[str, object] = json.loads(done.stdout)
    return event


def test_the_data_unit_restores_at_first_boot_and_backs_up_the_last_write_at_stop(
    settings: commands.Settings, aws_env: dict[str, str], tmp_path: Path
) -> None:
    commands.backup(settings, now=datetime.now(UTC) - timedelta(minutes=5))
    box_db = tmp_path / "box" / "onebox.db"
    env = {**aws_env, "APP_DATABASE": str(box_db), "APP_BACKUP_BUCKET": settings.bucket}
    started = run_unit_line(DATA_UNIT, "ExecStart", env)
    fill(box_db, 1, start=4242)  # the last acknowledged write before shutdown
    stopped = run_unit_line(DATA_UNIT, "ExecStop", env)
    final = tmp_path / "final.db"
    commands.restore_database(replace(settings, database=final))
    assert started["event"] == "restore_done"
    assert stopped["event"] == "backup_done"
    assert stopped["rows"] == {
        "daily_requests": 0,
        "service_meta": 0,
        "user_activity": 0,
        "user_states": 51,
    }
    assert stopped["key"] > str(started["key"])
    with closing(sqlite3.connect(final)) as conn:
        assert conn.execute("SELECT 1 FROM user_states WHERE user_id = 'u04242'").fetchone()
