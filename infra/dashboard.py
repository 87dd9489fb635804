"""The CloudWatch dashboard body as a dict (pure: no pulumi import)."""

from __future__ import annotations

from typing import Any

from infra.alarm_specs import allowed_error_ratio
from service import contract

EC2 = "AWS/EC2"
ROUTE53 = "AWS/Route53"
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


def budget_widget(
    namespace: str,
    instance_id: str,
    region: str,
    y: int,
    objective_pct: float = contract.SLO_AVAILABILITY_PCT,
    dimension: str = contract.METRIC_DIMENSION,
) -> dict[str, Any]:
    """The error budget of `objective_pct` left, in % of contract.SLO_WINDOW_DAYS: one number,
    both metrics summed over the whole window (a widget period may be any multiple of 60 s).
    It counts this instance's requests only: a replaced box starts a fresh budget."""
    allowed = allowed_error_ratio(objective_pct)
    left = f"100 * (1 - (errors / requests) / {allowed:g})"
    pairs = (("errors", contract.ERRORS_5XX_METRIC), ("requests", contract.REQUESTS_METRIC))
    metrics: list[list[Any]] = [
        [namespace, metric, dimension, instance_id, {"id": key, "visible": False}]
        for key, metric in pairs
    ]
    metrics.append([{"expression": left, "label": "Budget left (%)", "id": "budget"}])
    days = contract.SLO_WINDOW_DAYS
    return {
        "type": "metric",
        "x": 0,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {
            "title": f"Error budget left, {days} days ({objective_pct:g} % SLO)",
            "metrics": metrics,
            "stat": "Sum",
            "period": days * 86400,
            "region": region,
            "view": "singleValue",
        },
    }


def uptime_widget(health_check_id: str, y: int) -> dict[str, Any]:
    """Route 53's view from outside: 1 healthy, 0 not (its metric exists in us-east-1 only)."""
    widget = _widget(0, "Uptime check, seen from outside (1 = up)", [], "Minimum", "us-east-1")
    widget["properties"]["metrics"] = [[ROUTE53, "HealthCheckStatus", "HealthCheckId",
                                        health_check_id]]  # fmt: skip
    return {**widget, "x": 12, "y": y}


def dashboard_body(
    namespace: str,
    instance_id: str | None,
    region: str,
    health_check_id: str | None = None,
    objective_pct: float = contract.SLO_AVAILABILITY_PCT,
    fleet: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """One graph per contract metric plus CPU, the error budget of `objective_pct` left and the
    uptime check; without an instance (paused) only a note. `fleet` (topology ha: the stack and
    the auto scaling group) reads every graph across the boxes instead of one instance's."""
    if fleet is not None:
        own, ec2 = (contract.STACK_DIMENSION, fleet[0]), ("AutoScalingGroupName", fleet[1])
        return _graphs(namespace, region, health_check_id, objective_pct, own, ec2)
    if instance_id is None:
        note = {"markdown": "The stack is paused (running=false): no instance, no metrics."}
        return {
            "widgets": [
                {"type": "text", "x": 0, "y": 0, "width": 24, "height": 2, "properties": note}
            ]
        }
    by_instance = (contract.METRIC_DIMENSION, instance_id)
    return _graphs(namespace, region, health_check_id, objective_pct, by_instance, by_instance)


def _graphs(
    namespace: str,
    region: str,
    health_check_id: str | None,
    objective_pct: float,
    own: tuple[str, str],
    ec2: tuple[str, str],
) -> dict[str, Any]:
    """The graphs, the budget and the uptime check, read by `own` (the box's metrics) and `ec2`
    (AWS/EC2's) dimension."""
    widgets = []
    for index, (title, space, metric, stat) in enumerate(GRAPHS):
        series = [space or namespace, metric, *(ec2 if space else own)]
        widgets.append(_widget(index, title, series, stat, region))
    below = (len(GRAPHS) + 1) // 2 * 6
    widgets.append(budget_widget(namespace, own[1], region, below, objective_pct, own[0]))
    if health_check_id is not None:
        widgets.append(uptime_widget(health_check_id, below))
    return {"widgets": widgets}
