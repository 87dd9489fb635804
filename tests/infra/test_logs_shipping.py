"""The journal reaches CloudWatch Logs: the agent's config, its stop order, and the install part.

The install part runs with stand-ins for dnf, rpm, systemctl and amazon-cloudwatch-agent-ctl;
the drop-in is verified by the real `systemd-analyze verify` beside the agent's own unit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from service import contract
from tests.infra.test_units import HOST_UNITS
from tests.support import DEPLOY, require_tool, run_part, stub_programs
from tests.support import calls as recorded

LOGS = DEPLOY / "logs"
PART = DEPLOY / "install.d" / "50-logs.sh"
CTL = "opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"
CONFIG = "opt/aws/amazon-cloudwatch-agent/etc/onebox.json"
DROP_IN = "etc/systemd/system/amazon-cloudwatch-agent.service.d/stop-last.conf"
# The first-boot bootstrap unit comes with the user-data, not from service/deploy/.
BOOTSTRAP = "onebox-bootstrap.service"
# The unit the amazon-cloudwatch-agent package installs (its packaging/ directory), for verify.
AGENT_UNIT = """[Unit]
Description=Amazon CloudWatch Agent
After=network.target

[Service]
Type=simple
ExecStart=/opt/aws/amazon-cloudwatch-agent/bin/start-amazon-cloudwatch-agent
KillMode=process
Restart=on-failure
RestartSec=60s

[Install]
WantedBy=multi-user.target
"""
RECORDER = '#!/bin/bash\necho "$(basename "$0") $*" >> "$CALLS"\n'
RPM = '#!/bin/bash\necho "rpm $*" >> "$CALLS"\n[ -f "$VERSION_FILE" ] && cat "$VERSION_FILE"\n'
DNF = """#!/bin/bash
echo "dnf $*" >> "$CALLS"
case " $* " in *" --releasever=latest "*) echo "$LATEST" > "$VERSION_FILE" ;;
*" install "*) [ -f "$VERSION_FILE" ] || echo "$LOCKED" > "$VERSION_FILE" ;; esac
"""


def services() -> list[str]:
    return sorted(p.name for p in DEPLOY.glob("*.service"))


def template() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((LOGS / "amazon-cloudwatch-agent.json").read_text())
    return document


def test_the_agent_reads_the_journal_of_every_onebox_service() -> None:
    (entry,) = template()["logs"]["logs_collected"]["journald"]["collect_list"]
    assert entry["units"] == sorted([*services(), BOOTSTRAP, contract.NGINX_UNIT])
    assert "onebox.service" in entry["units"] and "onebox-data.service" in entry["units"]
    # One stream per instance: a replaced box's lines stay beside the new one's.
    assert entry["log_stream_name"] == "{instance_id}"
    assert entry["priority"] == "info"


def test_the_config_uses_only_keys_of_the_agents_journald_schema() -> None:
    (entry,) = template()["logs"]["logs_collected"]["journald"]["collect_list"]
    schema_keys = {"log_group_name", "log_stream_name", "log_group_class", "retention_in_days",
                   "filters", "units", "priority", "matches"}  # fmt: skip
    assert set(entry) <= schema_keys
    # The stack owns the retention (logRetentionDays); the box may not change it.
    assert "retention_in_days" not in entry


def test_the_agent_stops_after_every_onebox_service() -> None:
    text = (LOGS / "stop-last.conf").read_text()
    before = [
        unit
        for line in text.splitlines()
        if line.startswith("Before=")
        for unit in line.removeprefix("Before=").split()
    ]
    assert sorted(before) == sorted([*services(), contract.NGINX_UNIT])


def test_the_drop_in_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    tool = require_tool("systemd-analyze")
    shutil.copytree(HOST_UNITS, tmp_path / "usr/lib/systemd/system", symlinks=True)
    units = tmp_path / "etc/systemd/system"
    units.mkdir(parents=True)
    (units / "amazon-cloudwatch-agent.service").write_text(AGENT_UNIT)
    (units / "amazon-cloudwatch-agent.service.d").mkdir()
    shutil.copy(LOGS / "stop-last.conf", units / "amazon-cloudwatch-agent.service.d")
    stub_programs(
        tmp_path, "opt/aws/amazon-cloudwatch-agent/bin/start-amazon-cloudwatch-agent", "bin/sleep"
    )
    command = [tool, "verify", f"--root={tmp_path}", "--man=no", "amazon-cloudwatch-agent.service"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert not result.stderr.strip() and not result.stdout.strip(), result.stderr


def _install(
    root: Path, locked: str, latest: str, group: str = "/onebox/dev"
) -> subprocess.CompletedProcess[str]:
    ctl = root / CTL
    ctl.parent.mkdir(parents=True, exist_ok=True)
    ctl.write_text(RECORDER)
    ctl.chmod(0o755)
    stand_ins = {"dnf": DNF, "rpm": RPM, "systemctl": RECORDER}
    return run_part(
        PART,
        root,
        stand_ins,
        VERSION_FILE=str(root / "version"),
        LOCKED=locked,
        LATEST=latest,
        APP_LOG_GROUP=group,
    )


def test_the_part_configures_the_stacks_group_and_starts_the_agent(tmp_path: Path) -> None:
    result = _install(tmp_path, locked="1.300071.0", latest="1.300080.0")
    assert result.returncode == 0, result.stderr
    written = json.loads((tmp_path / CONFIG).read_text())
    (entry,) = written["logs"]["logs_collected"]["journald"]["collect_list"]
    assert entry["log_group_name"] == "/onebox/dev"
    assert (
        entry["units"]
        == template()["logs"]["logs_collected"]["journald"]["collect_list"][0]["units"]
    )
    assert (tmp_path / DROP_IN).read_text() == (LOGS / "stop-last.conf").read_text()
    calls = recorded(tmp_path)
    assert not [c for c in calls if "--releasever=latest" in c]  # the locked agent is enough
    assert calls[-1] == (f"amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -c file:/{CONFIG} -s")
    assert calls.index("systemctl daemon-reload") < len(calls) - 1


def test_an_agent_too_old_for_journald_is_taken_from_the_newest_release(tmp_path: Path) -> None:
    result = _install(tmp_path, locked="1.300062.0", latest="1.300071.0")
    assert result.returncode == 0, result.stderr
    assert (
        "dnf --assumeyes --quiet --releasever=latest upgrade amazon-cloudwatch-agent"
        in recorded(tmp_path)
    )
    assert "agent 1.300071.0" in result.stdout


def test_an_agent_that_cannot_read_journald_fails_the_part_by_name(tmp_path: Path) -> None:
    result = _install(tmp_path, locked="1.300062.0", latest="1.300069.0")
    assert result.returncode == 1
    assert (
        "amazon-cloudwatch-agent 1.300069.0 cannot read journald (needs 1.300070.0)"
        in result.stderr
    )
    assert not (tmp_path / CONFIG).exists()


def test_without_a_log_group_nothing_is_installed(tmp_path: Path) -> None:
    result = _install(tmp_path, locked="1.300071.0", latest="1.300071.0", group="")
    assert result.returncode == 0
    assert recorded(tmp_path) == []


@pytest.mark.parametrize("part", [PART, DEPLOY / "install.d" / "60-patch.sh"])
def test_install_parts_are_executable(part: Path) -> None:
    assert os.access(part, os.X_OK)
