"""The backup alerts against what a real backup writes: `python -m service.backup backup` with
APP_BACKUP_TEXTFILE set writes node_exporter's textfile, and promtool runs the rules over its
samples, as a Prometheus scraping that node_exporter would see them.

promtool's clock starts at the Unix epoch, so the run is moved in time: its clock and the
gauge's value move together, and the backup lands at BACKUP_AT, its gauge reading BACKUP_AT. The
fixture first checks that the file holds the real time the backup ran.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from service import contract
from tests.monitoring.conftest import last_success
from tests.monitoring.real import NODE_LABELS, promtool_test
from tests.monitoring.test_rules import RULES, alerts

MINUTE = 60
BACKUP_AT = 10 * MINUTE  # seconds after promtool's start: ten minutes with no backup yet
END_MINUTES = 90
# What Prometheus adds when it scrapes node_exporter (prometheus.example.yml's job "node").
SCRAPE_LABELS = NODE_LABELS
BACKUP_ALARM = contract.ALARMS_BY_KEY["backup-age"]
STALE_AFTER_MINUTES = contract.BACKUP_STALE_SECONDS // MINUTE


def series(path: Path, present: range) -> dict[str, str]:
    """The textfile's sample as a promtool input series, with the scrape's labels added: one
    value a minute, scraped only in the minutes `present`, up to the end of the test."""
    (family,) = text_string_to_metric_families(path.read_text())
    (sample,) = family.samples
    value = round(sample.value - (last_success(path) - BACKUP_AT))  # moved with the clock
    minutes = ["_" if minute not in present else str(value) for minute in range(END_MINUTES)]
    labels = ",".join(f'{k}="{v}"' for k, v in sorted({**sample.labels, **SCRAPE_LABELS}.items()))
    return {"series": f"{sample.name}{{{labels}}}", "values": " ".join(minutes)}


def expected(alert: str, labels: dict[str, str], **template: str) -> dict[str, Any]:
    """The alert as promtool reports it: the contract's levels, the annotations filled in."""
    rule = alerts()[alert]
    annotations = {}
    for name, text in rule["annotations"].items():
        for placeholder, value in template.items():
            text = text.replace("{{ " + placeholder + " }}", value)
        annotations[name] = text
    levels = {"priority": BACKUP_ALARM.priority, "severity": BACKUP_ALARM.severity}
    return {"exp_labels": {**labels, **levels}, "exp_annotations": annotations}


def test_a_fresh_backup_is_not_stale_and_one_without_successors_is(
    textfile: Path, tmp_path: Path
) -> None:
    before = BACKUP_AT // MINUTE  # minutes without the series, then no backup after this one
    fired_at = before + STALE_AFTER_MINUTES + 3
    age = f"{fired_at - before}m 0s"
    inputs = series(textfile, range(before, END_MINUTES))
    stale = expected(
        "OneboxBackupStale",
        SCRAPE_LABELS,
        **{"$labels.instance": SCRAPE_LABELS["instance"], "$value | humanizeDuration": age},
    )
    checks = [
        {"eval_time": f"{before + 1}m", "alertname": "OneboxBackupStale", "exp_alerts": []},
        {
            "eval_time": f"{before + STALE_AFTER_MINUTES}m",
            "alertname": "OneboxBackupStale",
            "exp_alerts": [],
        },
        {"eval_time": f"{fired_at}m", "alertname": "OneboxBackupStale", "exp_alerts": [stale]},
        {"eval_time": f"{fired_at}m", "alertname": "OneboxBackupAgeUnknown", "exp_alerts": []},
    ]
    promtool_test(
        RULES, [{"interval": "1m", "input_series": [inputs], "alert_rule_test": checks}], tmp_path
    )


def test_the_age_is_unknown_once_the_backups_series_is_gone(textfile: Path, tmp_path: Path) -> None:
    # The collector serves the file for ten minutes, then nothing (file removed, collector off).
    start = BACKUP_AT // MINUTE
    inputs = series(textfile, range(start, start + 10))
    unknown = expected("OneboxBackupAgeUnknown", {})
    checks = [
        {"eval_time": "30m", "alertname": "OneboxBackupAgeUnknown", "exp_alerts": []},
        {"eval_time": "60m", "alertname": "OneboxBackupAgeUnknown", "exp_alerts": [unknown]},
        {"eval_time": "60m", "alertname": "OneboxBackupStale", "exp_alerts": []},
    ]
    promtool_test(
        RULES, [{"interval": "1m", "input_series": [inputs], "alert_rule_test": checks}], tmp_path
    )
