"""topology ha: with a stack name the publisher sends the same figures a second time by the Stack
dimension alone, which CloudWatch aggregates across boxes; without one (the single box) it sends
the one InstanceId call it always did."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from service.contract import CLOUDWATCH_METRICS, METRIC_DIMENSION, STACK_DIMENSION
from service.publish import cloudwatch as cloudwatch_data
from service.publish.loop import Publisher
from tests.service.publish.conftest import FakeServer
from tests.service.publish.test_publisher import Counting, serve_metrics, settings


def _ticked(fake: FakeServer, client: Any, tmp_path: Path, stack: str) -> Counting:
    counting = Counting(client)
    cfg = dataclasses.replace(settings(f"{fake.url}/metrics", tmp_path, "Onebox/h"), stack=stack)
    publisher = Publisher(cfg, counting)
    serve_metrics(fake, ok=100, bad=0, fast=100)
    publisher.last = publisher.read_service()
    serve_metrics(fake, ok=160, bad=4, fast=160)
    assert publisher.tick()
    return counting


def test_a_stack_name_adds_one_call_by_the_stack_dimension_with_the_same_figures(
    fake_http: FakeServer, cloudwatch: Any, tmp_path: Path
) -> None:
    by_box, by_stack = _ticked(fake_http, cloudwatch, tmp_path, "prod").calls
    assert {d["Dimensions"][0]["Name"] for d in by_box["MetricData"]} == {METRIC_DIMENSION}
    assert all(d["Dimensions"] == [{"Name": STACK_DIMENSION, "Value": "prod"}]
               for d in by_stack["MetricData"])  # fmt: skip
    values = [
        {d["MetricName"]: d["Value"] for d in call["MetricData"]} for call in (by_box, by_stack)
    ]
    assert values[0] == values[1] and set(values[0]) == set(CLOUDWATCH_METRICS)
    listed = cloudwatch.list_metrics(Namespace="Onebox/h", Dimensions=[{"Name": STACK_DIMENSION}])
    assert {m["MetricName"] for m in listed["Metrics"]} == set(CLOUDWATCH_METRICS)


def test_without_a_stack_name_only_the_instance_call_is_sent(
    fake_http: FakeServer, cloudwatch: Any, tmp_path: Path
) -> None:
    (call,) = _ticked(fake_http, cloudwatch, tmp_path, "").calls
    assert {d["Dimensions"][0]["Name"] for d in call["MetricData"]} == {METRIC_DIMENSION}


def test_metric_data_names_the_dimension_it_is_given() -> None:
    figures = cloudwatch_data.Figures(1.0, 0.0, 5.0, 2.0, True, 1.0, 1.0, 1.0)
    at = cloudwatch_data.datetime.now()
    (first, *_) = cloudwatch_data.metric_data(figures, "prod", at, STACK_DIMENSION)
    assert first["Dimensions"] == [{"Name": STACK_DIMENSION, "Value": "prod"}]


def test_a_box_on_postgresql_reports_no_backup_age(
    fake_http: FakeServer, cloudwatch: Any, tmp_path: Path
) -> None:
    cfg = dataclasses.replace(
        settings(f"{fake_http.url}/metrics", tmp_path, "Onebox/p"), sqlite_backups=False
    )
    assert Publisher(cfg, cloudwatch).figures(None).backup_age_seconds is None
    on_sqlite = Publisher(settings(f"{fake_http.url}/metrics", tmp_path, "Onebox/p"), cloudwatch)
    assert on_sqlite.figures(None).backup_age_seconds is not None
