"""The stack's CloudWatch Logs group: where the box ships its journald lines.

One group per stack, `/onebox/<stack>`, with the retention of `logRetentionDays`. The box
writes one stream per instance (its instance id), so a replaced box's lines stay beside the
new one's. The IAM document that lets the box write here is `policies.logs_policy`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from service.contract import log_group


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
        self.group_name, self.group_arn = group.name, group.arn
        self.register_outputs({"group_name": self.group_name, "group_arn": self.group_arn})
