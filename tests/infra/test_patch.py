"""The patch script's decisions, with stand-ins for dnf, systemctl and sleep on PATH.

systemd-analyze, date and python3 are the real ones: the window is computed by systemd from the
calendar spec, as on the box. Windows are set relative to the current UTC time.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support import DEPLOY, require_tool

SCRIPT = DEPLOY / "bin" / "onebox-patch.sh"
INSTALL_PART = DEPLOY / "install.d" / "60-patch.sh"
DROP_IN = "etc/systemd/system/onebox-patch.timer.d/window.conf"

DNF = """#!/bin/bash
echo "dnf $*" >> "$CALLS"
case " $* " in
*" needs-restarting "*)
  if [ -n "${FAKE_NR_BROKEN:-}" ]; then echo "No such command: needs-restarting"; exit 1; fi
  if [ -n "${FAKE_REBOOT_NEEDED:-}" ]; then
    printf 'Core libraries or services have been updated since boot-up:\\n  * kernel\\n\\n'
    echo "Reboot is required to fully utilize these updates."; exit 1
  fi
  echo "Reboot should not be necessary."; exit 0 ;;
*" upgrade "*)
  count=$(( $(cat "$CALLS.upgrades" 2>/dev/null || echo 0) + 1 )); echo "$count" > "$CALLS.upgrades"
  [ "$count" -gt "${FAKE_DNF_FAILS:-0}" ] || { echo "Curl error (28): timeout" >&2; exit 1; } ;;
esac
"""
RECORDER = '#!/bin/bash\necho "$(basename "$0") $*" >> "$CALLS"\n'


@dataclass
class Box:
    """A scratch root with stand-ins on PATH; `run` runs the script and returns what happened."""

    root: Path
    bin: Path

    @property
    def calls(self) -> list[str]:
        path = self.root / "calls"
        return path.read_text().splitlines() if path.exists() else []

    def run(self, *args: str, **env: str) -> tuple[int, list[dict[str, str]]]:
        environ = {
            "PATH": f"{self.bin}:{os.environ['PATH']}",
            "ONEBOX_ROOT": str(self.root),
            "CALLS": str(self.root / "calls"),
            **env,
        }
        command = ["bash", str(SCRIPT), *args]
        result = subprocess.run(
            command, env=environ, capture_output=True, text=True, timeout=60, check=False
        )
        events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        return result.returncode, events


@pytest.fixture
def box(tmp_path: Path) -> Box:
    require_tool("systemd-analyze")
    stand_ins = tmp_path / "bin"
    stand_ins.mkdir()
    for name, text in {"dnf": DNF, "systemctl": RECORDER, "sleep": RECORDER}.items():
        (stand_ins / name).write_text(text)
        (stand_ins / name).chmod(0o755)
    return Box(tmp_path, stand_ins)


def window_starting(minutes_from_now: int) -> str:
    """A daily calendar spec whose start is this many minutes from now (UTC)."""
    start = datetime.now(UTC) + timedelta(minutes=minutes_from_now)
    return f"*-*-* {start:%H:%M}:00"


INSIDE, OUTSIDE = window_starting(-10), window_starting(120)


def names(events: list[dict[str, str]]) -> list[str]:
    return [event["event"] for event in events]


def test_it_upgrades_security_fixes_from_the_newest_release_and_reboots_in_the_window(
    box: Box,
) -> None:
    status, events = box.run("run", APP_MAINTENANCE_WINDOW=INSIDE, FAKE_REBOOT_NEEDED="1")
    assert status == 0
    assert "dnf --assumeyes --quiet --refresh --releasever=latest upgrade --security" in box.calls
    assert "systemctl reboot" in box.calls
    assert names(events)[-1] == "reboot_started"
    assert (box.root / "var/lib/onebox-patch/rebooted-at").read_text().strip().isdigit()


def test_nothing_reboots_when_no_reboot_is_needed(box: Box) -> None:
    status, events = box.run("run", APP_MAINTENANCE_WINDOW=INSIDE)
    assert status == 0
    assert "systemctl reboot" not in box.calls
    assert names(events)[-1] == "reboot_not_needed"


def test_nothing_reboots_outside_the_window_even_when_a_reboot_is_needed(box: Box) -> None:
    status, events = box.run("run", APP_MAINTENANCE_WINDOW=OUTSIDE, FAKE_REBOOT_NEEDED="1")
    assert status == 0
    assert "systemctl reboot" not in box.calls
    assert events[-1] == {**events[-1], "event": "reboot_deferred", "window": OUTSIDE}


def test_a_window_is_one_hour_long(box: Box) -> None:
    _, events = box.run("run", APP_MAINTENANCE_WINDOW=window_starting(-70), FAKE_REBOOT_NEEDED="1")
    assert names(events)[-1] == "reboot_deferred"


def test_a_box_reboots_at_most_once_per_window(box: Box) -> None:
    box.run("run", APP_MAINTENANCE_WINDOW=INSIDE, FAKE_REBOOT_NEEDED="1")
    _, events = box.run("run", APP_MAINTENANCE_WINDOW=INSIDE, FAKE_REBOOT_NEEDED="1")
    assert box.calls.count("systemctl reboot") == 1
    assert names(events)[-1] == "reboot_skipped"


def test_a_failed_dnf_is_retried_after_a_pause(box: Box) -> None:
    status, events = box.run("run", APP_MAINTENANCE_WINDOW=INSIDE, FAKE_DNF_FAILS="2")
    assert status == 0
    assert [c for c in box.calls if c.startswith("sleep")] == ["sleep 30", "sleep 120"]
    assert names(events)[:3] == ["patch_attempt_failed", "patch_attempt_failed", "patch_applied"]
    assert events[2]["attempt"] == "3"


def test_a_dnf_that_keeps_failing_is_reported_and_nothing_reboots(box: Box) -> None:
    status, events = box.run(
        "run", APP_MAINTENANCE_WINDOW=INSIDE, FAKE_DNF_FAILS="3", FAKE_REBOOT_NEEDED="1"
    )
    assert status == 1  # the unit fails: systemctl --failed shows it
    assert names(events)[-1] == "patch_failed"
    assert not [c for c in box.calls if "needs-restarting" in c or c.startswith("systemctl")]


def test_a_needs_restarting_that_fails_is_not_taken_for_a_reboot(box: Box) -> None:
    _, events = box.run("run", APP_MAINTENANCE_WINDOW=INSIDE, FAKE_NR_BROKEN="1")
    assert "systemctl reboot" not in box.calls
    assert "needs_restarting_failed" in names(events)


def test_the_timer_drop_in_carries_the_window_in_utc(box: Box) -> None:
    status, _ = box.run("timer", APP_MAINTENANCE_WINDOW="Sat *-*-* 04:30:00")
    assert status == 0
    expected = "[Timer]\nOnCalendar=\nOnCalendar=Sat *-*-* 04:30:00 UTC\n"
    assert (box.root / DROP_IN).read_text() == expected
    assert box.calls == ["systemctl daemon-reload"]
    box.run("timer", APP_MAINTENANCE_WINDOW="Sat *-*-* 04:30:00")
    assert box.calls == ["systemctl daemon-reload"]  # unchanged: no second reload


def test_the_unit_reads_the_window_from_the_env_file_as_data_never_sourced(box: Box) -> None:
    # onebox-patch.service runs as root and has no EnvironmentFile= (the agent may write it).
    env_file = box.root / "etc/onebox/onebox.env"
    env_file.parent.mkdir(parents=True, exist_ok=True)
    marker = box.root / "sourced"
    env_file.write_text(
        f'touch {marker}\nAPP_MAINTENANCE_WINDOW="Sat *-*-* 04:30:00"\nAPP_ENV=production\n'
    )
    status, _ = box.run("timer")
    assert status == 0
    assert (box.root / DROP_IN).read_text().endswith("OnCalendar=Sat *-*-* 04:30:00 UTC\n")
    assert not marker.exists()


def test_a_window_systemd_cannot_parse_falls_back_to_the_default(box: Box) -> None:
    box.run("timer", APP_MAINTENANCE_WINDOW="someday")
    assert (box.root / DROP_IN).read_text().endswith("OnCalendar=Sun *-*-* 03:00:00 UTC\n")


def test_the_install_part_places_a_root_copy_and_the_window(box: Box) -> None:
    environ = {
        "PATH": f"{box.bin}:{os.environ['PATH']}",
        "ONEBOX_ROOT": str(box.root),
        "CALLS": str(box.root / "calls"),
        "APP_MAINTENANCE_WINDOW": "Mon 02:00",
    }
    result = subprocess.run(
        ["bash", str(INSTALL_PART)], env=environ, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    copy = box.root / "usr/local/libexec/onebox/onebox-patch"
    assert copy.read_bytes() == SCRIPT.read_bytes()
    assert copy.stat().st_mode & 0o777 == 0o755
    assert (box.root / DROP_IN).read_text().endswith("OnCalendar=Mon 02:00 UTC\n")
    assert box.calls[0] == "dnf --assumeyes --quiet install dnf-plugins-core"
    assert os.access(INSTALL_PART, os.X_OK)


def test_usage_is_refused_with_exit_2(box: Box) -> None:
    assert box.run("reboot-now")[0] == 2
