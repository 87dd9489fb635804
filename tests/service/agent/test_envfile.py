"""The agent's settings step: the env file follows the settings parameter, and only on change."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from service.agent.envfile import SettingsSync, parse
from service.config import ConfigError

PARAMETER = "/onebox/test/settings"
SETTINGS = "APP_ENV=production\nAPP_BACKUP_KEEP=7\nAWS_REGION=us-east-1\n"


def _sync(aws: tuple[Any, Any], tmp_path: Path, value: str) -> tuple[SettingsSync, Path]:
    ssm, _ = aws
    ssm.put_parameter(Name=PARAMETER, Value=value, Type="String", Overwrite=True)
    marker = tmp_path / "restarted"
    command = [sys.executable, "-c", f"open({str(marker)!r}, 'a').write('x')"]
    return SettingsSync(ssm, PARAMETER, tmp_path / "onebox.env", command), marker


def test_a_changed_parameter_rewrites_the_env_file_and_restarts_its_readers(
    aws: tuple[Any, Any], tmp_path: Path
) -> None:
    sync, marker = _sync(aws, tmp_path, SETTINGS)
    (tmp_path / "onebox.env").write_text(SETTINGS.replace("KEEP=7", "KEEP=3"))
    assert sync.run() is True
    assert (tmp_path / "onebox.env").read_text() == SETTINGS
    assert (tmp_path / "onebox.env").stat().st_mode & 0o777 == 0o644
    assert marker.read_text() == "x"


def test_the_same_values_leave_the_file_and_the_service_alone(
    aws: tuple[Any, Any], tmp_path: Path
) -> None:
    # The AWS CLI adds a newline to what it prints: the installer's file has a blank line more.
    sync, marker = _sync(aws, tmp_path, SETTINGS)
    (tmp_path / "onebox.env").write_text(SETTINGS + "\n")
    assert sync.run() is False
    assert not marker.exists()


def test_a_value_no_process_would_accept_is_refused_and_the_file_kept(
    aws: tuple[Any, Any], tmp_path: Path
) -> None:
    sync, marker = _sync(aws, tmp_path, SETTINGS.replace("KEEP=7", "KEEP=none"))
    (tmp_path / "onebox.env").write_text(SETTINGS)
    with pytest.raises(ConfigError, match="APP_BACKUP_KEEP='none'"):
        sync.run()
    assert (tmp_path / "onebox.env").read_text() == SETTINGS
    assert not marker.exists()


@pytest.mark.parametrize("line", ["APP_X=two words", "app_x=1", "APP_X"])
def test_a_line_that_is_not_name_equals_value_is_refused_naming_it(line: str) -> None:
    with pytest.raises(ConfigError, match="is not NAME=value"):
        parse(f"APP_ENV=production\n{line}\n")
