"""The example Alertmanager configuration: valid for amtool, and routing every alert of the rules
by the levels the contract gives it (amtool from Debian's prometheus-alertmanager package)."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import yaml

from service import contract
from tests.monitoring.test_rules import MIRRORED, alerts
from tests.support import ROOT, require_tool

CONFIG = ROOT / "monitoring" / "alertmanager" / "alertmanager.example.yml"
RECEIVER = {"critical": "page", "warning": "ticket"}


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("amtool"), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def routed(labels: dict[str, str]) -> str:
    """The receiver amtool resolves an alert with `labels` to."""
    pairs = [f"{key}={value}" for key, value in sorted(labels.items())]
    done = amtool("config", "routes", "test", f"--config.file={CONFIG}", *pairs)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CONFIG.read_text())
    return loaded


def test_amtool_accepts_the_example() -> None:
    done = amtool("check-config", str(CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_each_severity_of_the_contract_has_a_receiver() -> None:
    severities = {alarm.severity for alarm in contract.ALARMS}
    assert severities == set(RECEIVER)
    assert set(RECEIVER.values()) == {receiver["name"] for receiver in config()["receivers"]}


@pytest.mark.parametrize("alert", sorted(alerts()))
def test_every_alert_reaches_the_receiver_of_its_severity(alert: str) -> None:
    labels = {**alerts()[alert]["labels"], "alertname": alert, "instance": "box"}
    assert routed(labels) == RECEIVER[MIRRORED[alert].severity]


def test_an_alert_without_levels_still_reaches_a_person() -> None:
    assert routed({"alertname": "Unknown"}) == RECEIVER["warning"]


def test_a_p1_page_repeats_sooner_than_a_p2_page() -> None:
    (critical,) = [r for r in config()["route"]["routes"] if r["receiver"] == RECEIVER["critical"]]
    (p1,) = critical["routes"]
    assert p1["matchers"] == ['priority="P1"']
    assert (p1["repeat_interval"], critical["repeat_interval"]) == ("30m", "1h")


def test_a_critical_alert_holds_back_the_warnings_of_its_instance() -> None:
    (rule,) = config()["inhibit_rules"]
    assert rule == {
        "source_matchers": ['severity="critical"'],
        "target_matchers": ['severity="warning"'],
        "equal": ["instance"],
    }
