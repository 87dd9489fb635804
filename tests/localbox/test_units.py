"""Reading unit files and moving the box's paths onto this machine."""

from __future__ import annotations

from pathlib import Path

from localbox.box import read_env_file
from localbox.units import ROOT, PathMap, read_unit


def test_exec_lines_lose_systemd_prefixes_and_keep_quoted_words(tmp_path: Path) -> None:
    (tmp_path / "x.service").write_text(
        "[Service]\n# ExecStart=/bin/commented\n"
        "ExecStart=-/opt/onebox/venv/bin/python -m service.backup \\\n  backup --note 'a b'\n"
        'Environment=A=1 "B=two words"\nEnvironment=A=3\n'
    )
    unit = read_unit("x.service", tmp_path)
    assert unit.commands("ExecStart") == [
        ["/opt/onebox/venv/bin/python", "-m", "service.backup", "backup", "--note", "a b"]
    ]
    assert unit.environment() == {"A": "3", "B": "two words"}


def test_box_paths_move_under_the_local_state_folder(tmp_path: Path) -> None:
    paths = PathMap(tmp_path)
    assert paths("/var/lib/onebox/onebox.db") == str(tmp_path / "lib" / "onebox.db")
    assert paths("/run/onebox/metrics") == str(tmp_path / "run" / "metrics")
    assert paths("/opt/onebox/current/service") == str(ROOT / "service")
    assert paths("/usr/bin/env") == "/usr/bin/env"


def test_the_web_unit_command_is_gunicorn_with_the_service_config() -> None:
    (argv,) = read_unit("onebox.service").commands("ExecStart")
    assert argv[0].endswith("/gunicorn")
    assert argv[1:] == ["-c", "service/gunicorn.conf.py", "service.wsgi:app"]


def test_env_files_are_read_as_systemd_reads_them(tmp_path: Path) -> None:
    (tmp_path / "e.env").write_text('# comment\nA=1\n\nB="quoted"\n')
    assert read_env_file(tmp_path / "e.env") == {"A": "1", "B": "quoted"}
