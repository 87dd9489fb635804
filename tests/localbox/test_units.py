"""Reading unit files and moving the box's paths onto this machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from localbox.box import read_env_file
from localbox.units import ROOT, PathMap, read_unit, timer_interval
from service.contract import (
    BACKUP_EVERY_SECONDS,
    BACKUP_TIMER,
    CURRENT,
    RUNTIME_DIR,
    STATE_DIR,
    VENV,
    WEB_UNIT,
)


def test_exec_lines_lose_systemd_prefixes_and_keep_quoted_words(tmp_path: Path) -> None:
    (tmp_path / "x.service").write_text(
        "[Service]\n# ExecStart=/bin/commented\n"
        f"ExecStart=-{VENV}/bin/python -m service.backup \\\n  backup --note 'a b'\n"
        'Environment=A=1 "B=two words"\nEnvironment=A=3\n'
    )
    unit = read_unit("x.service", tmp_path)
    assert unit.commands("ExecStart") == [
        [f"{VENV}/bin/python", "-m", "service.backup", "backup", "--note", "a b"]
    ]
    assert unit.environment() == {"A": "3", "B": "two words"}


def test_box_paths_move_under_the_local_state_folder(tmp_path: Path) -> None:
    paths = PathMap(tmp_path)
    assert paths(f"{STATE_DIR}/onebox.db") == str(tmp_path / "lib" / "onebox.db")
    assert paths(f"{RUNTIME_DIR}/metrics") == str(tmp_path / "run" / "metrics")
    assert paths(f"{CURRENT}/service") == str(ROOT / "service")
    assert paths("/usr/bin/env") == "/usr/bin/env"


def test_the_web_unit_command_is_gunicorn_with_the_service_config() -> None:
    (argv,) = read_unit(WEB_UNIT).commands("ExecStart")
    assert argv[0].endswith("/gunicorn")
    assert argv[1:] == ["-c", "service/web/gunicorn.conf.py", "service.web.wsgi:app"]


def test_env_files_are_read_as_systemd_reads_them(tmp_path: Path) -> None:
    (tmp_path / "e.env").write_text('# comment\nA=1\n\nB="quoted"\n')
    assert read_env_file(tmp_path / "e.env") == {"A": "1", "B": "quoted"}


def test_the_backup_interval_is_the_one_the_timer_unit_declares() -> None:
    assert timer_interval(BACKUP_TIMER) == BACKUP_EVERY_SECONDS


@pytest.mark.parametrize(
    "calendar",
    ["*-*-* *:00/7:00", "hourly", "*-*-* 03:00:00", "*-*-* *:00/0:00", "*-*-* *:00/90:00"],
)
def test_a_timer_whose_runs_are_not_evenly_spaced_minutes_is_refused(
    tmp_path: Path, calendar: str
) -> None:
    (tmp_path / "x.timer").write_text(f"[Timer]\nOnCalendar={calendar}\n")
    with pytest.raises(ValueError, match=r"x\.timer: OnCalendar="):
        timer_interval("x.timer", tmp_path)


def test_a_timer_every_10_minutes_is_600_seconds(tmp_path: Path) -> None:
    (tmp_path / "x.timer").write_text("[Timer]\nOnCalendar=*-*-* *:00/10:00\n")
    assert timer_interval("x.timer", tmp_path) == 600.0
