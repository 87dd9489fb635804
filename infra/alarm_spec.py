"""What one CloudWatch alarm is, as plain data (pure: no pulumi import); the stack's alarms are
listed in infra/alarm_specs.py, and infra/alerting.py declares one from its spec."""

from __future__ import annotations

from dataclasses import dataclass

from service import contract


@dataclass(frozen=True)
class Query:
    """One metric-math input of an alarm: a box metric read over `period`, or an expression."""

    id: str
    period: int
    metric: str | None = None  # a metric of the alarm's namespace (Sum over `period`)
    expression: str | None = None


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
    # Several windows: each input at its own period; `expression` (returned) combines them.
    queries: tuple[Query, ...] = ()
    # The dimensions it is read by (topology ha; names of ha_dimensions in infra/alarm_specs.py).
    # Empty: the single box's, InstanceId.
    dimension_keys: tuple[str, ...] = ()

    @property
    def level(self) -> contract.Alarm:
        """The alarm's priority and severity, as service.contract.ALARMS states them."""
        return contract.ALARMS_BY_KEY[self.key]

    @property
    def alarm_metrics(self) -> int:
        """Alarm metrics CloudWatch bills for: a metric-math alarm counts each metric it reads."""
        if self.queries:
            return sum(1 for query in self.queries if query.metric)
        return len(self.inputs) if self.expression else 1
