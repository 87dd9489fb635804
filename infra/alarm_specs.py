"""The alarms of the stack as plain data (pure: no pulumi import).

Ten alarms, the CloudWatch free tier's count: four on AWS/EC2 metrics and six on the box's
custom metrics (names from service.contract). Thresholds are the service's objectives: p95 <=
1000 ms, 5xx rate <= 1 %, CPU <= 80 %, a heartbeat every minute, and a backup every
`BACKUP_EVERY_SECONDS` (alarm after `BACKUP_MISSED_RUNS` missed runs). Each alarm's priority and
severity are the contract's `ALARMS` row of the same key.
"""

from __future__ import annotations

from dataclasses import dataclass

from service import contract

EC2 = "AWS/EC2"
MAX_ALARMS = 10


@dataclass(frozen=True)
class AlarmSpec:
    """One CloudWatch alarm on one metric (or a metric-math expression) of the instance."""

    key: str
    description: str
    namespace: str
    metric: str
    statistic: str
    comparison: str
    threshold: float
    period: int = 60
    evaluation_periods: int = 1
    treat_missing_data: str = "missing"
    ec2_action: str | None = None  # "recover" or "reboot": EC2 acts on the box itself
    expression: str | None = None  # metric math over the ids named in `inputs`
    inputs: tuple[tuple[str, str], ...] = ()  # (id, metric name) read by `expression`

    @property
    def level(self) -> contract.Alarm:
        """The alarm's priority and severity, as service.contract.ALARMS states them."""
        return contract.ALARMS_BY_KEY[self.key]

    @property
    def alarm_metrics(self) -> int:
        """Alarm metrics CloudWatch bills for: a metric-math alarm counts each metric it reads."""
        return len(self.inputs) if self.expression else 1


def instance_alarms(namespace: str, p95_ms: float = 1000, error_pct: float = 1) -> list[AlarmSpec]:
    """The ten alarms; `namespace` is the box's custom-metric namespace (Onebox/<stack>)."""
    gt, ge, lt = "GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold"
    return [
        AlarmSpec(
            "status-system",
            "AWS hardware or network failed: EC2 recovers the instance",
            EC2,
            "StatusCheckFailed_System",
            "Maximum",
            ge,
            1,
            60,
            2,
            ec2_action="recover",
        ),
        AlarmSpec(
            "status-instance",
            "The instance's OS stopped answering: EC2 reboots it",
            EC2,
            "StatusCheckFailed_Instance",
            "Maximum",
            ge,
            1,
            60,
            3,
            ec2_action="reboot",
        ),
        AlarmSpec(
            "cpu-high",
            "CPU above 80 % for 15 minutes",
            EC2,
            "CPUUtilization",
            "Average",
            gt,
            80,
            300,
            3,
        ),
        AlarmSpec(
            "cpu-credits-low",
            "CPU credits nearly spent: the box will be throttled",
            EC2,
            "CPUCreditBalance",
            "Minimum",
            lt,
            20,
            300,
            2,
        ),
        AlarmSpec(
            "heartbeat-missing",
            "No healthy heartbeat from the box for 3 minutes",
            namespace,
            contract.HEALTHY_METRIC,
            "Minimum",
            lt,
            1,
            60,
            3,
            treat_missing_data="breaching",
        ),
        AlarmSpec(
            "error-rate",
            f"More than {error_pct:g} % of requests answered 5xx (5 min)",
            namespace,
            "ErrorRatePercent",
            "Sum",
            gt,
            error_pct,
            300,
            1,
            treat_missing_data="notBreaching",
            expression="100 * errors / requests",
            inputs=(("errors", contract.ERRORS_5XX_METRIC), ("requests", contract.REQUESTS_METRIC)),
        ),
        AlarmSpec(
            "latency-p95",
            f"p95 latency above {p95_ms:g} ms (5 min average)",
            namespace,
            contract.LATENCY_P95_METRIC,
            "Average",
            gt,
            p95_ms,
            300,
            1,
            treat_missing_data="notBreaching",
        ),
        AlarmSpec(
            "backup-age",
            f"No successful backup for {contract.BACKUP_STALE_SECONDS // 60} minutes "
            f"({contract.BACKUP_MISSED_RUNS} missed runs)",
            namespace,
            contract.BACKUP_AGE_METRIC,
            "Maximum",
            gt,
            contract.BACKUP_STALE_SECONDS,
            300,
            1,
            treat_missing_data="breaching",
        ),
        AlarmSpec(
            "disk-used",
            "Disk above 80 %: SQLite writes fail when it is full",
            namespace,
            contract.DISK_USED_METRIC,
            "Maximum",
            gt,
            80,
            300,
            1,
        ),
        AlarmSpec(
            "memory-used",
            "Memory above 90 % for 10 minutes",
            namespace,
            contract.MEMORY_USED_METRIC,
            "Average",
            gt,
            90,
            300,
            2,
        ),
    ]


def alarm_metric_count(specs: list[AlarmSpec]) -> int:
    """How many alarm metrics the specs cost (the free tier covers 10)."""
    return sum(spec.alarm_metrics for spec in specs)
