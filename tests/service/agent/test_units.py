"""The agent's unit and timer, and what it needs from onebox.service."""

from __future__ import annotations

import itertools
import re
import subprocess
from datetime import datetime

from service import config
from service.agent.settings import AgentSettings
from service.contract import (
    AGENT_TIMER,
    AGENT_UNIT,
    AGENT_USER,
    BOX_ROOT,
    CURRENT,
    ENV_FILE,
    VENV,
    WEB_UNIT,
    release_parameter,
)
from tests.support import require_tool, unit_directives, unit_environment

REQUIRED = {"APP_RELEASE_PARAMETER": release_parameter("dev"), "APP_BACKUP_BUCKET": "b"}


def test_the_agent_unit_runs_the_agent_module_from_the_current_release() -> None:
    (exec_start,) = unit_directives(AGENT_UNIT, "ExecStart")
    assert exec_start == f"{VENV}/bin/python -m service.agent"
    assert unit_directives(AGENT_UNIT, "WorkingDirectory") == [CURRENT]
    assert unit_directives(AGENT_UNIT, "Type") == ["oneshot"]
    assert f"-{ENV_FILE}" in unit_directives(AGENT_UNIT, "EnvironmentFile")
    env = unit_environment(AGENT_UNIT)
    settings = AgentSettings.from_config(config.from_environ({**env, **REQUIRED}))
    assert str(settings.root) == BOX_ROOT
    # Not root: it asks for the reload through the file onebox-reload.path watches.
    assert unit_directives(AGENT_UNIT, "User") == [AGENT_USER]
    (watched,) = unit_directives("onebox-reload.path", "PathModified")
    assert settings.reload_command == ("touch", watched)


def test_systemd_lets_a_deploying_run_finish_its_watch_and_a_rollback() -> None:
    # The longest run at the defaults: the baseline, a preflight (60 s at most) that outlasts
    # it, a reload (60 s at most) and its check, the watch, and the rollback's reload and check.
    settings = AgentSettings.from_config(config.from_environ(REQUIRED))
    watch = settings.watch
    longest = watch.baseline_seconds + 60 + 2 * (60 + settings.check_seconds) + watch.seconds
    (timeout,) = unit_directives(AGENT_UNIT, "TimeoutStartSec")
    assert re.fullmatch(r"\d+", timeout), timeout
    assert int(timeout) > longest


def test_the_timer_fires_every_minute_and_catches_up_after_downtime() -> None:
    systemd_analyze = require_tool("systemd-analyze")
    (calendar,) = unit_directives(AGENT_TIMER, "OnCalendar")
    assert unit_directives(AGENT_TIMER, "Persistent") == ["true"]
    out = subprocess.run(
        [systemd_analyze, "calendar", "--iterations=3", calendar],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    # "Next elapse: Mon 2026-11-23 10:50:00 UTC" then "Iter. #2: ..." lines
    stamps = [
        datetime.strptime(" ".join(line.split()[-3:-1]), "%Y-%m-%d %H:%M:%S")
        for line in out.splitlines()
        if "Next elapse" in line or "Iter. #" in line
    ]
    gaps = {(later - earlier).total_seconds() for earlier, later in itertools.pairwise(stamps)}
    assert len(stamps) == 3 and gaps == {60.0}


def test_the_service_unit_names_the_current_symlink_in_pwd_so_a_hup_loads_the_new_release() -> None:
    # gunicorn's default chdir is PWD when it names the working directory; without it gunicorn
    # keeps the resolved release and a HUP re-reads the old gunicorn.conf.py and VERSION.
    directory = unit_directives(WEB_UNIT, "WorkingDirectory")
    assert unit_environment(WEB_UNIT)["PWD"] == directory[0] == CURRENT
