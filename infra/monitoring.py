"""Monitoring: the alarm topic, the alarms, the outside uptime check, the dashboard and the
monthly cost budget."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.alarm_spec import AlarmSpec
from infra.alarm_specs import instance_alarms, slo_burn_alarm
from infra.alerting import alarm_topic, metric_alarm
from infra.dashboard import dashboard_body
from infra.ha_alarms import ha_alarms
from infra.uptime import Uptime, UptimeArgs
from service import contract


@dataclass(frozen=True)
class HaWatch:
    """topology ha: the dimension values its alarms and dashboard read (alarm_specs' names)."""

    stack: str
    group_name: pulumi.Input[str]
    balancer: pulumi.Input[str]  # the ALB's ARN suffix
    target_group: pulumi.Input[str]  # the target group's ARN suffix
    database: pulumi.Input[str]  # the DBInstanceIdentifier

    def dimensions(self) -> dict[str, pulumi.Input[str]]:
        return {
            contract.STACK_DIMENSION: self.stack,
            "AutoScalingGroupName": self.group_name,
            "LoadBalancer": self.balancer,
            "TargetGroup": self.target_group,
            "DBInstanceIdentifier": self.database,
        }


@dataclass(frozen=True)
class MonitoringArgs:
    """What to watch (the instance, when there is one) and whom to tell."""

    namespace: str
    region: str
    instance_id: pulumi.Input[str] | None  # None: the stack is paused, no instance alarms
    alert_email: str | None
    monthly_budget_usd: float
    # The availability objective (sloAvailabilityPct): the burn alarm's and the budget's.
    slo_availability_pct: float = contract.SLO_AVAILABILITY_PCT
    tags: dict[str, str] = field(default_factory=dict)
    # What the outside check probes: (host, https, port); None while paused (no box, no check).
    uptime_target: tuple[pulumi.Input[str], bool, int] | None = None
    ha: HaWatch | None = None  # topology ha: the fleet's alarms instead of the instance's


class Monitoring(pulumi.ComponentResource):
    """SNS topic (+ e-mail), CloudWatch alarms and dashboard, and an AWS Budgets cost budget."""

    topic_arn: pulumi.Output[str]
    """The SNS topic every alarm and the budget notify."""
    dashboard_name: pulumi.Output[str]
    """The CloudWatch dashboard's name."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("onebox:monitoring:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        topic = alarm_topic(self, name, args.alert_email, args.tags, child)
        if args.instance_id is not None:
            burn = slo_burn_alarm(args.namespace, args.slo_availability_pct)
            for spec in [*instance_alarms(args.namespace), burn]:
                self._alarm(name, spec, args, topic.arn)
        if args.ha is not None:
            values = args.ha.dimensions()
            for spec in ha_alarms(args.namespace, args.slo_availability_pct):
                dimensions = {key: values[key] for key in spec.dimension_keys}
                metric_alarm(f"{name}-{spec.key}", spec, dimensions, [topic.arn], topic.arn,
                             args.tags, child)  # fmt: skip
        check_id: pulumi.Input[str | None] = None
        if args.uptime_target is not None:
            host, https, port = args.uptime_target
            uptime = Uptime(
                f"{name}-uptime",
                UptimeArgs(host, https, port, args.region, topic.arn, args.alert_email, args.tags),
                opts=child,
            )
            check_id = uptime.health_check_id
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=name,
            dashboard_body=pulumi.Output.all(
                args.instance_id, check_id, args.ha.group_name if args.ha else None
            ).apply(
                lambda ids: json.dumps(
                    dashboard_body(
                        args.namespace,
                        ids[0],
                        args.region,
                        ids[1],
                        args.slo_availability_pct,
                        fleet=(args.ha.stack, ids[2]) if args.ha else None,
                    )
                )
            ),
            opts=child,
        )
        self._budget(name, args, topic.arn)
        self.topic_arn, self.dashboard_name = topic.arn, dashboard.dashboard_name
        self.register_outputs({"topic_arn": self.topic_arn, "dashboard_name": self.dashboard_name})

    def _alarm(
        self, name: str, spec: AlarmSpec, args: MonitoringArgs, topic_arn: pulumi.Output[str]
    ) -> None:
        actions: list[Any] = [topic_arn]
        if spec.ec2_action:
            actions.insert(0, f"arn:aws:automate:{args.region}:ec2:{spec.ec2_action}")
        dimensions = {contract.METRIC_DIMENSION: args.instance_id}
        child = pulumi.ResourceOptions(parent=self)
        metric_alarm(f"{name}-{spec.key}", spec, dimensions, actions, topic_arn, args.tags, child)

    def _budget(self, name: str, args: MonitoringArgs, topic_arn: pulumi.Output[str]) -> None:
        notify = [
            aws.budgets.BudgetNotificationArgs(
                comparison_operator="GREATER_THAN",
                notification_type=kind,
                threshold=percent,
                threshold_type="PERCENTAGE",
                subscriber_sns_topic_arns=[topic_arn],
            )
            for kind, percent in (("ACTUAL", 80.0), ("FORECASTED", 100.0))
        ]
        aws.budgets.Budget(
            f"{name}-budget",
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=f"{args.monthly_budget_usd:.2f}",
            limit_unit="USD",
            notifications=notify,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
