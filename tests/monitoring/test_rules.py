"""The self-hosted Prometheus rules: valid, unit-tested by promtool, and true to the service.

promtool comes from Debian's prometheus package; without it these tests skip on a laptop and
fail under CI (tests.support.require_tool).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from service import config, contract
from service.web import create_app
from tests.support import ROOT, require_tool

RULES_DIR = ROOT / "monitoring" / "prometheus"
RULES = RULES_DIR / "onebox-rules.yml"
# Not served by the service: written by the backup job for node_exporter's textfile collector,
# or node_exporter's own.
FROM_THE_NODE = {contract.PROM_BACKUP_LAST_SUCCESS, "node_cpu_seconds_total"}
# Each Prometheus alert -> the contract's CloudWatch alarm it mirrors.
MIRRORED = {name: alarm for alarm in contract.ALARMS for name in alarm.prometheus}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("promtool"), *args],
        cwd=RULES_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def alerts() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for rule in rules() if "alert" in rule}


def recorded() -> dict[str, str]:
    return {rule["record"]: rule["expr"] for rule in rules() if "record" in rule}


def test_promtool_accepts_the_rules() -> None:
    result = promtool("check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_the_rules_pass_their_promtool_unit_tests() -> None:
    result = promtool("test", "rules", "onebox-rules.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_example_scrape_configuration_is_valid_and_loads_the_rules() -> None:
    result = promtool("check", "config", "prometheus.example.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout


def test_every_alert_is_exercised_by_the_unit_tests() -> None:
    tests = yaml.safe_load((RULES_DIR / "onebox-rules.test.yml").read_text())["tests"]
    firing = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case["exp_alerts"]
    }
    assert firing == set(alerts())


def test_every_alert_mirrors_an_alarm_of_the_contract_and_every_mirror_exists() -> None:
    assert set(alerts()) == set(MIRRORED)


def test_every_alert_has_the_priority_and_severity_of_the_alarm_it_mirrors() -> None:
    for name, rule in alerts().items():
        alarm = MIRRORED[name]
        labels = {"priority": alarm.priority, "severity": alarm.severity}
        assert {k: rule["labels"][k] for k in labels} == labels, name


def test_every_alert_has_words_for_the_on_call() -> None:
    for name, rule in alerts().items():
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name


def test_the_service_rules_select_the_contracts_scrape_job_and_the_example_scrapes_it() -> None:
    for name in ("OneboxHighErrorRate", "OneboxLatencyP95AboveSLO", "OneboxDown"):
        assert f'job="{contract.PROM_JOB}"' in alerts()[name]["expr"], name
    example = yaml.safe_load((RULES_DIR / "prometheus.example.yml").read_text())
    assert contract.PROM_JOB in {job["job_name"] for job in example["scrape_configs"]}


def test_the_thresholds_are_the_service_objectives() -> None:
    defaults = config.defaults()
    rules = alerts()
    error_rate = re.search(r">\s*([\d.]+)\s*$", rules["OneboxHighErrorRate"]["expr"].strip())
    latency = re.search(r">\s*([\d.]+)\s*$", rules["OneboxLatencyP95AboveSLO"]["expr"].strip())
    assert error_rate and float(error_rate.group(1)) == defaults["SLO_ERROR_RATE_PCT"]
    assert latency and float(latency.group(1)) * 1000 == defaults["SLO_P95_MS"]
    stale = f"time() - {contract.PROM_BACKUP_LAST_SUCCESS} > {contract.BACKUP_STALE_SECONDS}"
    assert rules["OneboxBackupStale"]["expr"].strip() == stale


def test_the_rules_read_only_metrics_the_service_serves_or_the_node_provides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    app = create_app({"DATABASE": str(tmp_path / "rules.db"), "ENV": "test"})
    try:
        client = app.test_client()
        client.get("/api/health")
        text = client.get("/metrics").get_data(as_text=True)
    finally:
        app.extensions["onebox"].store.close()
    served = {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }
    used = set()
    for rule in rules():
        used |= set(re.findall(r"(?<![:\w])((?:onebox|node)_[a-z_]+)\b", rule["expr"]))
    assert used - FROM_THE_NODE <= served, sorted(used - FROM_THE_NODE - served)
    assert {"onebox_http_requests_total", "onebox_http_request_duration_seconds_bucket"} <= used


def test_the_burn_rate_alerts_are_the_contracts_windows_over_the_availability_objective() -> None:
    rules = alerts()
    for window in contract.BURN_WINDOWS:
        expr = " ".join(rules[window.alert]["expr"].split())
        ratio = "instance:onebox_http_errors:ratio_rate"
        objective = f"{window.burn:g} * (1 - {contract.SLO_AVAILABILITY_PCT / 100:g})"
        assert expr == (
            f"{ratio}{window.long} > {objective} and {ratio}{window.short} > {objective}"
        ), window.alert
        assert f"{ratio}{window.long}" in recorded() and f"{ratio}{window.short}" in recorded()
        assert (
            f"{contract.SLO_WINDOW_DAYS}-day error budget"
            in rules[window.alert]["annotations"]["description"]
        )
        days = contract.SLO_WINDOW_DAYS / window.burn
        assert f"gone in about {days:.0f} days" in rules[window.alert]["annotations"]["description"]


def test_the_burn_rate_alerts_are_those_the_contracts_slo_alarm_names() -> None:
    slo = contract.ALARMS_BY_KEY["slo-burn"]
    assert {window.alert for window in contract.BURN_WINDOWS} == set(slo.prometheus)


def test_every_window_records_the_5xx_ratio_of_the_same_window() -> None:
    for name, expr in recorded().items():
        window = name.rsplit("ratio_rate", 1)[1]
        assert re.findall(r"\[(\w+)\]", expr) == [window] * 3, name


def test_the_example_scrapes_node_exporter_reading_the_contracts_textfile_directory() -> None:
    text = (RULES_DIR / "prometheus.example.yml").read_text()
    assert f"--collector.textfile.directory={contract.BACKUP_TEXTFILE_DIR}\n" in text
    example = yaml.safe_load(text)
    assert {job["job_name"] for job in example["scrape_configs"]} == {contract.PROM_JOB, "node"}
