"""The metric data of one call: the contract's eight names and units, within the free tier."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from service import contract
from service.publish import cloudwatch

AT = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
FULL = cloudwatch.Figures(
    requests=120,
    errors_5xx=2,
    latency_p95_ms=87.5,
    active_users=4,
    healthy=True,
    backup_age_seconds=130.0,
    memory_used_percent=41.2,
    disk_used_percent=23.0,
)


def test_the_eight_contract_metrics_go_out_with_their_exact_units() -> None:
    data = cloudwatch.metric_data(FULL, "i-0abc", AT)
    assert {d["MetricName"]: d["Unit"] for d in data} == contract.CLOUDWATCH_METRICS
    assert len(data) == 8 <= cloudwatch.FREE_TIER_METRICS


def test_every_metric_has_one_instance_dimension_the_time_and_a_float() -> None:
    for datum in cloudwatch.metric_data(FULL, "i-0abc", AT):
        assert datum["Dimensions"] == [{"Name": contract.METRIC_DIMENSION, "Value": "i-0abc"}]
        assert datum["Timestamp"] == AT
        assert isinstance(datum["Value"], float)
        assert datum["StorageResolution"] == 60


def test_unknown_figures_are_left_out_and_healthy_is_one_or_zero() -> None:
    down = cloudwatch.Figures(None, None, None, None, False, 900.0, 50.0, None)
    data = {d["MetricName"]: d["Value"] for d in cloudwatch.metric_data(down, "i-1", AT)}
    assert data == {"Healthy": 0.0, "BackupAgeSeconds": 900.0, "MemoryUsedPercent": 50.0}
    up = {d["MetricName"]: d["Value"] for d in cloudwatch.metric_data(FULL, "i-1", AT)}
    assert up["Healthy"] == 1.0


def test_more_than_ten_metrics_in_one_call_is_refused_before_any_call() -> None:
    class NoCalls:
        def put_metric_data(self, **kwargs: Any) -> None:
            raise AssertionError("must not be called")

    data = cloudwatch.metric_data(FULL, "i-1", AT) * 2
    with pytest.raises(ValueError, match="16 metrics"):
        cloudwatch.put(NoCalls(), "Onebox/test", data)
