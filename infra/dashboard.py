"""The CloudWatch dashboard body as a dict (pure: no pulumi import)."""

from __future__ import annotations

from typing import Any

from service import contract

EC2 = "AWS/EC2"
# (title, namespace or None for the box's own, metric, statistic)
GRAPHS: tuple[tuple[str, str | None, str, str], ...] = (
    ("Requests per minute", None, contract.REQUESTS_METRIC, "Sum"),
    ("5xx responses per minute", None, contract.ERRORS_5XX_METRIC, "Sum"),
    ("p95 latency (ms)", None, contract.LATENCY_P95_METRIC, "Maximum"),
    ("Active users", None, contract.ACTIVE_USERS_METRIC, "Maximum"),
    ("Healthy heartbeat", None, contract.HEALTHY_METRIC, "Minimum"),
    ("Backup age (s)", None, contract.BACKUP_AGE_METRIC, "Maximum"),
    ("Memory used (%)", None, contract.MEMORY_USED_METRIC, "Average"),
    ("Disk used (%)", None, contract.DISK_USED_METRIC, "Maximum"),
    ("CPU (%)", EC2, "CPUUtilization", "Average"),
    ("CPU credit balance", EC2, "CPUCreditBalance", "Minimum"),
)


def _widget(index: int, title: str, metric: list[str], stat: str, region: str) -> dict[str, Any]:
    return {
        "type": "metric",
        "x": (index % 2) * 12,
        "y": (index // 2) * 6,
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "metrics": [metric],
            "stat": stat,
            "period": 60,
            "region": region,
            "view": "timeSeries",
        },
    }


def dashboard_body(namespace: str, instance_id: str | None, region: str) -> dict[str, Any]:
    """One graph per contract metric plus CPU; without an instance (paused) only a note."""
    if instance_id is None:
        note = {"markdown": "The stack is paused (running=false): no instance, no metrics."}
        return {
            "widgets": [
                {"type": "text", "x": 0, "y": 0, "width": 24, "height": 2, "properties": note}
            ]
        }
    widgets = []
    for index, (title, space, metric, stat) in enumerate(GRAPHS):
        series = [space or namespace, metric, contract.METRIC_DIMENSION, instance_id]
        widgets.append(_widget(index, title, series, stat, region))
    return {"widgets": widgets}
