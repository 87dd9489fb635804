"""The dashboard against a real Prometheus on loopback: the example configuration, pointed at
gunicorn (started as its unit starts it) and node_exporter (serving a real backup's textfile),
scrapes every second; each panel query then returns data, and the rules load and evaluate.

Bounded: a few seconds of scraping; each wait gives up after WAIT seconds.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitoring.grafana import dashboard
from service import contract
from tests.monitoring.conftest import drive
from tests.monitoring.real import running
from tests.monitoring.test_rules import RULES, RULES_DIR, rules
from tests.service.conftest import launch
from tests.support import free_port, require_tool, wait_until

WAIT = 30.0
# Every panel query, keyed by panel title and refId.
PANELS = {
    f"{panel['title']} {target['refId']}": target["expr"]
    for panel in dashboard.dashboard()["panels"]
    for target in panel["targets"]
}


def configuration(service_port: int, node_url: str, rules_file: Path) -> dict[str, Any]:
    """prometheus.example.yml with the real targets, one-second scrapes and evaluations, and no
    Alertmanager (nothing listens for it here)."""
    example: dict[str, Any] = yaml.safe_load((RULES_DIR / "prometheus.example.yml").read_text())
    targets = {
        contract.PROM_JOB: f"127.0.0.1:{service_port}",
        "node": urllib.parse.urlsplit(node_url).netloc,
    }
    for job in example["scrape_configs"]:
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    example["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    example["rule_files"] = [str(rules_file)]
    del example["alerting"]
    return example


def query(base: str, expr: str) -> list[dict[str, Any]]:
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (http on loopback)
        body = json.load(response)
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def api(base: str, path: str) -> Any:
    with urllib.request.urlopen(f"{base}{path}", timeout=5) as response:  # noqa: S310
        return json.load(response)["data"]


@pytest.fixture(scope="module")
def prometheus(node_exporter: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a real Prometheus scraping a real gunicorn that serves some traffic."""
    root = tmp_path_factory.mktemp("prometheus")
    service = launch(root)
    try:
        drive(service)
        path = root / "prometheus.yml"
        config = configuration(service.port, node_exporter, RULES)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        port = free_port()
        argv = [
            require_tool("prometheus"),
            f"--config.file={path}",
            f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]
        base = f"http://127.0.0.1:{port}"
        with running(argv, f"{base}/-/ready", root / "prometheus.log"):
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline and not all(
                query(base, expr) for expr in PANELS.values()
            ):
                drive(service)  # traffic between scrapes, so the rates have something to show
                time.sleep(0.5)
            yield base
    finally:
        service.stop()


@pytest.mark.parametrize("panel", sorted(PANELS))
def test_each_panel_query_returns_data(prometheus: str, panel: str) -> None:
    assert query(prometheus, PANELS[panel]), f"{panel}: {PANELS[panel]} returned nothing"


def test_both_jobs_are_up_with_the_host_as_their_instance(prometheus: str) -> None:
    up = {
        (s["metric"]["job"], s["metric"]["instance"], s["value"][1])
        for s in query(prometheus, "up")
    }
    assert up == {(contract.PROM_JOB, "127.0.0.1", "1"), ("node", "127.0.0.1", "1")}


def loaded_rules(base: str) -> list[dict[str, Any]]:
    return [rule for group in api(base, "/api/v1/rules")["groups"] for rule in group["rules"]]


def test_the_rules_load_evaluate_and_record(prometheus: str) -> None:
    wait_until(
        lambda: all(rule["health"] != "unknown" for rule in loaded_rules(prometheus)),
        timeout=WAIT,
        what="every rule to be evaluated once",
    )
    loaded = loaded_rules(prometheus)
    assert len(loaded) == len(rules())
    assert {rule["name"]: rule["health"] for rule in loaded} == {
        rule.get("alert") or rule["record"]: "ok" for rule in rules()
    }
    # A rate needs two scrapes of the counter: the first evaluations may record nothing yet.
    wait_until(
        lambda: bool(query(prometheus, "instance:onebox_http_errors:ratio_rate5m")),
        timeout=WAIT,
        what="the 5xx ratio to be recorded",
    )
