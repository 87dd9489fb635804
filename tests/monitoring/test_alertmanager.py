"""The example Alertmanager configuration: valid for amtool, routing every alert of the rules by
the levels the contract gives it, and holding back a box's warnings while it has a critical
alert, in a real Alertmanager on loopback (both from Debian's prometheus-alertmanager package)."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from service import contract
from tests.monitoring.real import running
from tests.monitoring.test_rules import MIRRORED, alerts
from tests.support import ROOT, free_port, require_tool, wait_until

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


def loopback_receivers(example: dict[str, Any], port: int) -> dict[str, Any]:
    """The example with each receiver a webhook to a closed port on loopback: the routes and the
    inhibit rule are kept, and nothing leaves the machine."""
    hook = {"url": f"http://127.0.0.1:{port}/", "send_resolved": False}
    receivers = [{"name": r["name"], "webhook_configs": [hook]} for r in example["receivers"]]
    return {**{k: v for k, v in example.items() if k != "global"}, "receivers": receivers}


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a real Alertmanager on loopback running the example's routes and inhibition."""
    root = tmp_path_factory.mktemp("alertmanager")
    path = root / "alertmanager.yml"
    path.write_text(yaml.safe_dump(loopback_receivers(config(), free_port())))
    port = free_port()
    argv = [
        require_tool("prometheus-alertmanager"),
        f"--config.file={path}",
        f"--storage.path={root / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # one instance, no gossip port
    ]
    base = f"http://127.0.0.1:{port}"
    with running(argv, f"{base}/-/ready", root / "alertmanager.log"):
        yield base


def post_alerts(base: str, batch: list[dict[str, str]]) -> None:
    body = json.dumps([{"labels": labels} for labels in batch]).encode()
    request = urllib.request.Request(  # noqa: S310 (http on loopback)
        f"{base}/api/v2/alerts", body, {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
        assert response.status == 200


def states(base: str) -> dict[tuple[str, str], tuple[str, list[str]]]:
    """(alertname, instance) -> (state, receivers) of every alert Alertmanager holds."""
    with urllib.request.urlopen(f"{base}/api/v2/alerts", timeout=5) as response:  # noqa: S310
        held = json.load(response)
    return {
        (a["labels"]["alertname"], a["labels"].get("instance", "")): (
            a["status"]["state"],
            [r["name"] for r in a["receivers"]],
        )
        for a in held
    }


def labelled(alert: str, instance: str) -> dict[str, str]:
    return {**alerts()[alert]["labels"], "alertname": alert, "instance": instance}


def test_a_real_alertmanager_pages_the_outage_and_holds_back_that_boxs_warning(
    alertmanager: str,
) -> None:
    post_alerts(
        alertmanager,
        [
            labelled("OneboxDown", "box-a"),
            labelled("OneboxBackupStale", "box-a"),
            labelled("OneboxBackupStale", "box-b"),
        ],
    )
    wait_until(lambda: len(states(alertmanager)) == 3, timeout=10, what="the alerts to be held")
    assert states(alertmanager) == {
        ("OneboxDown", "box-a"): ("active", [RECEIVER["critical"]]),
        ("OneboxBackupStale", "box-a"): ("suppressed", [RECEIVER["warning"]]),
        ("OneboxBackupStale", "box-b"): ("active", [RECEIVER["warning"]]),
    }
