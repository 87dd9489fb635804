"""The backup alerts against what a real backup writes: `python -m service.backup backup` with
APP_BACKUP_TEXTFILE set writes node_exporter's textfile, and promtool runs the rules over its
samples, as a Prometheus scraping that node_exporter would see them.

promtool's clock starts at the Unix epoch, so the run is moved in time: its clock and the
gauge's value move together, and the backup lands at BACKUP_AT, its gauge reading BACKUP_AT. The
fixture first checks that the file holds the real time the backup ran.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from service import contract
from tests.aws import aws_environment, moto_server
from tests.monitoring.test_rules import RULES, alerts
from tests.service.backup.conftest import fill, run_cli
from tests.support import require_tool

MINUTE = 60
BACKUP_AT = 10 * MINUTE  # seconds after promtool's start: ten minutes with no backup yet
END_MINUTES = 90
# What Prometheus adds when it scrapes node_exporter (prometheus.example.yml's job "node").
SCRAPE_LABELS = {"job": "node", "instance": "box:9100"}
BACKUP_ALARM = contract.ALARMS_BY_KEY["backup-age"]
STALE_AFTER_MINUTES = contract.BACKUP_STALE_SECONDS // MINUTE


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(scope="module")
def textfile(endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The textfile one real backup run wrote (checked to hold the time it ran)."""
    aws = aws_environment(endpoint)
    bucket = f"onebox-test-{uuid.uuid4().hex[:12]}"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in aws.items():
            patch.setenv(name, value)
        boto3.client("s3").create_bucket(Bucket=bucket)
    root = tmp_path_factory.mktemp("backup")
    database, path = root / "onebox.db", root / "collector" / "onebox_backup.prom"
    fill(database, 5)
    before = time.time()
    done = run_cli(
        "backup",
        env={
            **aws,
            "APP_DATABASE": str(database),
            "APP_BACKUP_BUCKET": bucket,
            "APP_BACKUP_TEXTFILE": str(path),
        },
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert before <= last_success(path) <= time.time()
    return path


def last_success(path: Path) -> float:
    (family,) = text_string_to_metric_families(path.read_text())
    (sample,) = family.samples
    assert (family.name, family.type) == (contract.PROM_BACKUP_LAST_SUCCESS, "gauge")
    return float(sample.value)


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


def promtool_test(tmp_path: Path, tests: list[dict[str, Any]]) -> None:
    spec = {"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": tests}
    path = tmp_path / "backup-rules.test.yml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    done = subprocess.run(
        [require_tool("promtool"), "test", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


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
        tmp_path, [{"interval": "1m", "input_series": [inputs], "alert_rule_test": checks}]
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
        tmp_path, [{"interval": "1m", "input_series": [inputs], "alert_rule_test": checks}]
    )
