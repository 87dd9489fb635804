"""The alarms of the stack as plain data (pure: no pulumi import; each is an `AlarmSpec` of
infra/alarm_spec.py).

Thirteen alarms: four on AWS/EC2 metrics, six on the box's custom metrics (names from
service.contract), the error budget's burn rate over those metrics (`slo_burn_alarm`), the
outside uptime check (`uptime_alarm`, on Route 53's metric in us-east-1) and the logged errors
(`errors_alarm`, on the log group's metric filter). Thresholds are the service's objectives:
p95 <= 1000 ms, 5xx rate <= 1 %, CPU <= 80 %, a heartbeat every minute, a backup every
`BACKUP_EVERY_SECONDS` (alarm after `BACKUP_MISSED_RUNS` missed runs), and the availability
objective's burn windows (the stack's sloAvailabilityPct). Each alarm's priority and severity
are the contract's `ALARMS` row of the same key.
"""

from __future__ import annotations

from infra.alarm_spec import AlarmSpec, Query
from service import contract

EC2 = "AWS/EC2"
ROUTE53 = "AWS/Route53"
UPTIME_KEY = "uptime-check"
UPTIME_PATH = contract.HEALTH_READY_PATH  # the readiness route: 200 only when it serves
SLO_BURN_KEY = "slo-burn"
# The instance's ten, the burn-rate alarm and the uptime check (the first ten alarm *metrics*
# are free; `alarm_metric_count` says how many the stack reads).
MAX_ALARMS = 13
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


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


def seconds(duration: str) -> int:
    """A PromQL-style duration ("5m", "1h") in seconds."""
    unit = _SECONDS.get(duration[-1:])
    if unit is None or not duration[:-1].isdigit():
        raise ValueError(f"duration: {duration!r} is not <digits><s|m|h|d>")
    return int(duration[:-1]) * unit


def allowed_error_ratio(objective_pct: float = contract.SLO_AVAILABILITY_PCT) -> float:
    """The share of requests the objective lets fail (99.5 % -> 0.005)."""
    return round((100 - objective_pct) / 100, 6)


def burn_threshold(burn: float, objective_pct: float = contract.SLO_AVAILABILITY_PCT) -> float:
    """The 5xx ratio that spends the error budget `burn` times faster than the SLO allows."""
    return round(burn * allowed_error_ratio(objective_pct), 6)


def slo_burn_alarm(
    namespace: str, objective_pct: float = contract.SLO_AVAILABILITY_PCT
) -> AlarmSpec:
    """Multi-window burn rate: fires while any of contract.BURN_WINDOWS burns over both its long
    and short window. A CloudWatch alarm has one period, so each window is its own 5xx ratio
    (`Errors5xx / Requests` summed over that window's period) and one expression ANDs them.
    `objective_pct` is the stack's availability objective (sloAvailabilityPct)."""
    queries: list[Query] = []
    clauses = []
    for index, window in enumerate(contract.BURN_WINDOWS):
        limit = burn_threshold(window.burn, objective_pct)
        ratios = []
        for span in (window.long, window.short):
            period, tag = seconds(span), f"w{index}{span}"
            queries += [
                Query(f"e{tag}", period, metric=contract.ERRORS_5XX_METRIC),
                Query(f"r{tag}", period, metric=contract.REQUESTS_METRIC),
                Query(f"ratio{tag}", period, expression=f"e{tag} / r{tag}"),
            ]
            ratios.append(f"ratio{tag} > {limit:g}")
        clauses.append(f"({' AND '.join(ratios)})")
    windows = ", ".join(f"{w.long}/{w.short} x{w.burn:g}" for w in contract.BURN_WINDOWS)
    shortest = min(seconds(w.short) for w in contract.BURN_WINDOWS)
    return AlarmSpec(
        SLO_BURN_KEY,
        f"The {contract.SLO_WINDOW_DAYS}-day error budget ({objective_pct:g} % "
        f"without 5xx) burns too fast ({windows})",
        namespace,
        "ErrorBudgetBurning",
        "Sum",
        "GreaterThanThreshold",
        0.5,  # the expression is 1 while burning, 0 otherwise
        shortest,
        1,
        treat_missing_data="notBreaching",  # no requests: nothing burns
        expression=f"IF({' OR '.join(clauses)}, 1, 0)",
        queries=tuple(queries),
    )


def uptime_alarm() -> AlarmSpec:
    """The outside check: Route 53's HealthCheckStatus (1 healthy, 0 not) below 1 for 2 min."""
    return AlarmSpec(
        UPTIME_KEY,
        f"Route 53's health checkers cannot get {UPTIME_PATH} through the public URL",
        ROUTE53,
        "HealthCheckStatus",
        "Minimum",
        "LessThanThreshold",
        1,
        60,
        2,
        treat_missing_data="breaching",  # no status at all is no proof it is up
    )


def errors_alarm(namespace: str) -> AlarmSpec:
    """An unhandled exception in the last 5 minutes: the log group's metric filter counts every
    error line (its fingerprint); no line, no data, no alarm. Every one is a bug worth a look."""
    return AlarmSpec(
        "errors",
        "The service logged an unhandled exception (a 500) in the last 5 minutes; group them "
        "by fingerprint with the Logs Insights query in docs/monitoring.md",
        namespace,
        contract.ERRORS_METRIC,
        "Sum",
        "GreaterThanOrEqualToThreshold",
        1,
        300,
        1,
        treat_missing_data="notBreaching",
    )


def all_alarms(
    namespace: str, objective_pct: float = contract.SLO_AVAILABILITY_PCT
) -> list[AlarmSpec]:
    """Every CloudWatch alarm of a running stack; `objective_pct` is its availability SLO."""
    return [
        *instance_alarms(namespace),
        slo_burn_alarm(namespace, objective_pct),
        uptime_alarm(),
        errors_alarm(namespace),
    ]


def alarm_metric_count(specs: list[AlarmSpec]) -> int:
    """How many alarm metrics the specs cost (the free tier covers 10)."""
    return sum(spec.alarm_metrics for spec in specs)
