"""The stack's CloudWatch Logs group: where the box ships its journald lines.

One group per stack, `/onebox/<stack>`, with the retention of `logRetentionDays`. The box
writes one stream per instance (its instance id), so a replaced box's lines stay beside the
new one's. The IAM document that lets the box write here is `policies.logs_policy`.

A metric filter on the group counts the service's unhandled exceptions as `Errors` in the
stack's namespace, and `ErrorsAlarm` tells the alarm topic when any occur. The agent ships each
journal entry as `{"body": {"MESSAGE": "<the unit's JSON line>", "_SYSTEMD_UNIT": ...}}`, so
the service's own fields sit inside a string that a filter pattern cannot parse (so no
`Fingerprint` dimension): the filter finds a line with a `fingerprint` by a regular expression
(`%...%`, a search anywhere in the value) on `body.MESSAGE`, and the per-fingerprint breakdown
is a Logs Insights query over the same lines (docs/monitoring.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra.alarm_specs import errors_alarm
from infra.alerting import metric_alarm
from service import contract
from service.contract import log_group, metrics_namespace

SERVICE_UNIT = "onebox.service"
# The field service.logs writes on every line that logs an exception (its handler's and
# gunicorn's): the line's group, and what marks it as an error here.
ERROR_FIELD = "fingerprint"
# The journal entry's unit, and the service's JSON line inside it: a string, so a regular
# expression between % signs, which matches anywhere in the value.
ERRORS_PATTERN = (
    f'{{ $.body._SYSTEMD_UNIT = "{SERVICE_UNIT}" && $.body.MESSAGE = %{ERROR_FIELD}% }}'
)


@dataclass(frozen=True)
class LogsArgs:
    """Which stack the group belongs to and how long it keeps events."""

    stack: str
    retention_days: int
    tags: dict[str, str] = field(default_factory=dict)


class Logs(pulumi.ComponentResource):
    """The log group the box's CloudWatch agent writes to."""

    group_name: pulumi.Output[str]
    """The group's name, `/onebox/<stack>`."""
    group_arn: pulumi.Output[str]
    """The group's ARN (without the `:*` suffix); `policies.logs_policy` scopes the box to it."""
    errors_filter_name: pulumi.Output[str]
    """The metric filter that counts the lines with a `fingerprint` as `Errors`."""

    def __init__(self, name: str, args: LogsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("onebox:logs:Logs", name, None, opts)
        group = aws.cloudwatch.LogGroup(
            f"{name}-group",
            name=log_group(args.stack),
            retention_in_days=args.retention_days,
            tags=args.tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                # A terminated or destroyed box's last lines (the final backup's among them)
                # must stay readable: the group outlives the instance and the stack, as the
                # backups bucket does, and its retention still expires the events.
                retain_on_delete=True,
            ),
        )
        errors = aws.cloudwatch.LogMetricFilter(
            f"{name}-errors",
            log_group_name=group.name,
            pattern=ERRORS_PATTERN,
            metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                name=contract.ERRORS_METRIC,
                namespace=metrics_namespace(args.stack),
                value="1",
                unit="Count",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.group_name, self.group_arn = group.name, group.arn
        self.errors_filter_name = errors.name
        self.register_outputs(
            {
                "group_name": self.group_name,
                "group_arn": self.group_arn,
                "errors_filter_name": self.errors_filter_name,
            }
        )


@dataclass(frozen=True)
class ErrorsAlarmArgs:
    """The stack whose `Errors` metric is watched and the topic that hears it."""

    stack: str
    topic_arn: pulumi.Input[str]
    tags: dict[str, str] = field(default_factory=dict)


class ErrorsAlarm(pulumi.ComponentResource):
    """An alarm when the log group's metric filter counted an unhandled exception."""

    alarm_name: pulumi.Output[str]
    """The alarm's name in CloudWatch."""

    def __init__(
        self, name: str, args: ErrorsAlarmArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("onebox:logs:ErrorsAlarm", name, None, opts)
        spec = errors_alarm(metrics_namespace(args.stack))
        child = pulumi.ResourceOptions(parent=self)
        # The filter's metric has no dimension: it counts the stack's errors, whichever box.
        alarm = metric_alarm(
            f"{name}-{spec.key}", spec, {}, [args.topic_arn], args.topic_arn, args.tags, child
        )
        self.alarm_name = alarm.name
        self.register_outputs({"alarm_name": self.alarm_name})
