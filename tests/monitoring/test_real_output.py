"""Every alert can fire on what the real programs serve: node_exporter (the CPU, and the backup's
textfile through its collector) and the service under gunicorn, each scraped once on loopback.

promtool replays series with the real names, labels and starting values, grown minute by minute
as a busy CPU, failing requests or slow ones would grow them. Only `up`, which Prometheus itself
writes, is left to onebox-rules.test.yml; the Prometheus on loopback (test_dashboard_live.py)
shows that the example configuration's scrape yields it with the labels the rules select.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.samples import Sample

from service import config, contract
from tests.monitoring.conftest import last_success
from tests.monitoring.real import (
    NODE_LABELS,
    SERVICE_LABELS,
    counter_series,
    promtool_test,
    samples,
    scrape,
    series_name,
)
from tests.monitoring.test_rules import MIRRORED, RULES, RULES_DIR, alerts

REQUESTS = f"{contract.PROM_REQUESTS}_total"
BUCKETS = f"{contract.PROM_LATENCY}_bucket"
CPU = "node_cpu_seconds_total"
SLO_SECONDS = config.defaults()["SLO_P95_MS"] / 1000


def fired(alert: str, labels: Mapping[str, str], **values: str) -> dict[str, Any]:
    """The alert as promtool reports it: the contract's levels, the annotations filled in with
    the labels and `values` (keyed by the template's pipeline, e.g. `$value | humanize`)."""
    alarm = MIRRORED[alert]
    fill = {f"$labels.{key}": value for key, value in labels.items()} | values
    annotations = {
        name: re.sub(r"\{\{ (.+?) \}\}", lambda m: fill[m.group(1)], text)
        for name, text in alerts()[alert]["annotations"].items()
    }
    levels = {"priority": alarm.priority, "severity": alarm.severity}
    return {"exp_labels": {**labels, **levels}, "exp_annotations": annotations}


def check(minute: int, alert: str, *expected: dict[str, Any]) -> dict[str, Any]:
    return {"eval_time": f"{minute}m", "alertname": alert, "exp_alerts": list(expected)}


def case(series: list[dict[str, str]], *checks: dict[str, Any]) -> dict[str, Any]:
    return {"interval": "1m", "input_series": series, "alert_rule_test": list(checks)}


def is_5xx(sample: Sample) -> bool:
    return sample.labels["status"].startswith("5")


def requests(text: str, failed_pct: float, minutes: int) -> list[dict[str, str]]:
    """The served request counters, grown by 100 requests a minute of which `failed_pct` are
    the served 5xx ones."""
    served = samples(text, REQUESTS)
    failed = [s for s in served if is_5xx(s)]
    ok = [s for s in served if not is_5xx(s)]
    assert failed and ok, "the service served no 5xx or no success"
    return [
        counter_series(s, SERVICE_LABELS, failed_pct / len(failed), minutes) for s in failed
    ] + [counter_series(s, SERVICE_LABELS, (100 - failed_pct) / len(ok), minutes) for s in ok]


def latency(text: str, slow_above: float, minutes: int) -> tuple[list[dict[str, str]], float]:
    """The served histogram buckets grown by 100 requests a minute per route, 10 of them slower
    than `slow_above` seconds; and the p95 histogram_quantile then estimates."""
    buckets = samples(text, BUCKETS)
    bounds = sorted({float(s.labels["le"]) for s in buckets})
    lower = max(b for b in bounds if b <= slow_above)
    upper = min(b for b in bounds if b > slow_above)
    series = [
        counter_series(s, SERVICE_LABELS, 90 if float(s.labels["le"]) <= lower else 100, minutes)
        for s in buckets
    ]
    return series, lower + (upper - lower) * (95 - 90) / (100 - 90)


def cpu(text: str, idle_per_minute: float, minutes: int) -> list[dict[str, str]]:
    """Every served CPU counter; the idle ones grow `idle_per_minute` seconds a minute."""
    served = samples(text, CPU)
    assert any(s.labels["mode"] == "idle" for s in served), "node_exporter served no idle CPU"
    return [
        counter_series(
            s, NODE_LABELS, idle_per_minute if s.labels["mode"] == "idle" else 0, minutes
        )
        for s in served
    ]


def backup(text: str, at_minute: int, present: range, minutes: int) -> dict[str, str]:
    """The served backup timestamp, moved in time to `at_minute` (promtool's clock starts at 0),
    scraped only in the minutes `present`."""
    (sample,) = samples(text, contract.PROM_BACKUP_LAST_SUCCESS)
    value = str(at_minute * 60)
    return {
        "series": series_name(sample, NODE_LABELS),
        "values": " ".join(value if m in present else "_" for m in range(minutes)),
    }


def test_node_exporter_serves_the_backups_textfile_and_the_cpu(
    node_exporter: str, textfile: Path
) -> None:
    text = scrape(node_exporter)
    (served,) = samples(text, contract.PROM_BACKUP_LAST_SUCCESS)
    assert served.value == last_success(textfile)
    assert [s.value for s in samples(text, "node_textfile_scrape_error")] == [0]
    assert samples(text, CPU)


def fires(minute: int, alert: str, labels: Mapping[str, str], **values: str) -> dict[str, Any]:
    return check(minute, alert, fired(alert, labels, **values))


def service_cases(text: str) -> list[dict[str, Any]]:
    """Cases on the service's served series: 10 % failing fires the error-rate and both burn
    alerts, failing at the objective fires none; 10 % slow requests fire the latency alert."""
    ten = {"$value | humanize": "10", "$value | humanizePercentage": "10%"}
    slow, p95 = latency(text, SLO_SECONDS, 30)
    return [
        case(
            # The burns are read once each window is full: no extrapolation from the real
            # start values blurs the ratio.
            requests(text, 10, 400),
            fires(10, "OneboxHighErrorRate", SERVICE_LABELS, **ten),
            fires(65, "OneboxErrorBudgetFastBurn", SERVICE_LABELS, **ten),
            fires(390, "OneboxErrorBudgetSlowBurn", SERVICE_LABELS, **ten),
        ),
        case(
            requests(text, 100 - contract.SLO_AVAILABILITY_PCT, 420),
            check(420, "OneboxErrorBudgetFastBurn"),
            check(420, "OneboxErrorBudgetSlowBurn"),
            check(420, "OneboxHighErrorRate"),
        ),
        case(
            slow,
            fires(
                10,
                "OneboxLatencyP95AboveSLO",
                SERVICE_LABELS,
                **{"$value | humanizeDuration": f"{p95:.4g}s"},
            ),
        ),
        case(latency(text, SLO_SECONDS / 2, 30)[0], check(20, "OneboxLatencyP95AboveSLO")),
    ]


def node_cases(text: str) -> list[dict[str, Any]]:
    """Cases on node_exporter's served series: a 90 % busy CPU fires, an idle one does not; the
    backup's timestamp goes stale, then missing."""
    host = {"instance": NODE_LABELS["instance"]}
    return [
        case(cpu(text, 6, 30), fires(15, "OneboxHighCpu", host, **{"$value | humanize": "90"})),
        case(cpu(text, 60, 30), check(20, "OneboxHighCpu")),
        case(
            [backup(text, 10, range(10, 40), 80)],
            check(20, "OneboxBackupStale"),
            fires(28, "OneboxBackupStale", NODE_LABELS, **{"$value | humanizeDuration": "18m 0s"}),
            check(60, "OneboxBackupAgeUnknown"),
            fires(75, "OneboxBackupAgeUnknown", {}),
        ),
    ]


@pytest.fixture(scope="module")
def cases(service_metrics: str, node_exporter: str) -> list[dict[str, Any]]:
    return service_cases(service_metrics) + node_cases(scrape(node_exporter))


def selected(expr: str) -> set[str]:
    """The metrics an expression selects with a label matcher or a range."""
    return set(re.findall(r"\b([a-z_:]+)\s*[{\[]", expr))


def firing(tests: list[dict[str, Any]]) -> set[str]:
    return {c["alertname"] for t in tests for c in t.get("alert_rule_test", []) if c["exp_alerts"]}


def test_every_alert_on_a_served_metric_fires_on_real_output(
    cases: list[dict[str, Any]], tmp_path: Path
) -> None:
    promtool_test(RULES, cases, tmp_path)
    only_up = {name for name, rule in alerts().items() if selected(rule["expr"]) == {"up"}}
    assert firing(cases) == set(alerts()) - only_up
    assert only_up == {"OneboxDown", "OneboxHeartbeatMissing"}


def test_every_alert_fires_in_some_promtool_test_case(cases: list[dict[str, Any]]) -> None:
    static = yaml.safe_load((RULES_DIR / "onebox-rules.test.yml").read_text())["tests"]
    assert firing(static) | firing(cases) == set(alerts())
