"""The metric data of one PutMetricData call: the names and units of service.contract, exactly.

Eight custom metrics of the free tier's ten, one dimension (InstanceId). With a stack name
(APP_METRICS_STACK, topology ha) the same eight go in a second call by the Stack dimension
alone: CloudWatch aggregates a metric only across identical dimensions, so the per-instance
series cannot be read as the fleet's. A figure that is
unknown this minute (no request, so no p95; the store did not answer, so no user count) is left
out rather than sent as a made-up zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service import contract

FREE_TIER_METRICS = 10
STORAGE_RESOLUTION = 60  # standard resolution: the alarms use 60 s periods


@dataclass(frozen=True)
class Figures:
    """One minute of the box, in the contract's terms (None: unknown, not sent)."""

    requests: float | None
    errors_5xx: float | None
    latency_p95_ms: float | None
    active_users: float | None
    healthy: bool
    backup_age_seconds: float | None
    memory_used_percent: float | None
    disk_used_percent: float | None


def metric_data(
    figures: Figures, instance_id: str, at: datetime, dimension: str = contract.METRIC_DIMENSION
) -> list[dict[str, Any]]:
    """The MetricData list for PutMetricData: at most the eight contract metrics, by
    `dimension` = `instance_id` (InstanceId; or the Stack dimension and the stack's name)."""
    values = {
        contract.REQUESTS_METRIC: figures.requests,
        contract.ERRORS_5XX_METRIC: figures.errors_5xx,
        contract.LATENCY_P95_METRIC: figures.latency_p95_ms,
        contract.ACTIVE_USERS_METRIC: figures.active_users,
        contract.HEALTHY_METRIC: 1.0 if figures.healthy else 0.0,
        contract.BACKUP_AGE_METRIC: figures.backup_age_seconds,
        contract.MEMORY_USED_METRIC: figures.memory_used_percent,
        contract.DISK_USED_METRIC: figures.disk_used_percent,
    }
    dimensions = [{"Name": dimension, "Value": instance_id}]
    return [
        {
            "MetricName": name,
            "Dimensions": dimensions,
            "Timestamp": at,
            "Value": float(value),
            "Unit": contract.CLOUDWATCH_METRICS[name],
            "StorageResolution": STORAGE_RESOLUTION,
        }
        for name, value in values.items()
        if value is not None
    ]


def put(cloudwatch: Any, namespace: str, data: list[dict[str, Any]]) -> None:
    """Send `data` in one PutMetricData call."""
    if len(data) > FREE_TIER_METRICS:
        raise ValueError(f"{len(data)} metrics in one call: the free tier allows 10")
    cloudwatch.put_metric_data(Namespace=namespace, MetricData=data)
