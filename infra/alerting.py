"""Alerting helpers of the components (they declare under the `opts` given): the alarm topic
with its policy and e-mail subscription, and a CloudWatch alarm made from an `AlarmSpec`."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import policies
from infra.alarm_spec import AlarmSpec


def alarm_topic(
    parent: pulumi.Resource,
    name: str,
    alert_email: str | None,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.sns.Topic:
    """`<name>-alarms` with the policy that lets CloudWatch and Budgets publish to it."""
    topic = aws.sns.Topic(f"{name}-alarms", tags=tags, opts=opts)
    account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent))
    aws.sns.TopicPolicy(
        f"{name}-alarms-policy",
        arn=topic.arn,
        policy=pulumi.Output.all(topic.arn, account.account_id).apply(
            lambda values: json.dumps(policies.alarm_topic_policy(values[0], values[1]))
        ),
        opts=opts,
    )
    if alert_email:
        aws.sns.TopicSubscription(
            f"{name}-alarms-email",
            topic=topic.arn,
            protocol="email",
            endpoint=alert_email,
            opts=opts,
        )
    return topic


def metric_alarm(
    name: str,
    spec: AlarmSpec,
    dimensions: dict[str, Any],
    actions: list[pulumi.Input[str]],
    ok_action: pulumi.Input[str],
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.cloudwatch.MetricAlarm:
    """The alarm `spec` describes, on the metric (or metric math) with these dimensions."""
    return aws.cloudwatch.MetricAlarm(
        name,
        # The priority first: it is what the notification's reader needs before anything.
        alarm_description=f"{spec.level.priority} {spec.level.severity}: {spec.description}",
        comparison_operator=spec.comparison,
        threshold=spec.threshold,
        evaluation_periods=spec.evaluation_periods,
        treat_missing_data=spec.treat_missing_data,
        alarm_actions=actions,
        ok_actions=[ok_action],
        tags=tags,
        opts=opts,
        **_metric_args(spec, dimensions),
    )


def _metric_args(spec: AlarmSpec, dimensions: dict[str, Any]) -> dict[str, Any]:
    """The MetricAlarm arguments naming what it watches: one metric, or metric math."""
    if not spec.expression:
        return {
            "namespace": spec.namespace,
            "metric_name": spec.metric,
            "period": spec.period,
            # A percentile (p95) is an extended statistic; the single box's alarms use none.
            ("extended_statistic" if spec.statistic.startswith("p") else "statistic"): (
                spec.statistic
            ),
            "dimensions": dimensions,
        }
    queries: list[dict[str, Any]] = [
        {"id": "rate", "expression": spec.expression, "label": spec.metric, "return_data": True}
    ]
    if spec.queries:
        queries[0]["period"] = spec.period
        for query in spec.queries:
            if query.expression:
                queries.append(
                    {"id": query.id, "expression": query.expression, "period": query.period}
                )
                continue
            watched = {
                "namespace": spec.namespace,
                "metric_name": query.metric,
                "period": query.period,
                "stat": spec.statistic,
                "dimensions": dimensions,
            }
            queries.append({"id": query.id, "metric": watched})
        return {"metric_queries": queries}
    for query_id, metric_name in spec.inputs:
        watched = {
            "namespace": spec.namespace,
            "metric_name": metric_name,
            "period": spec.period,
            "stat": spec.statistic,
            "dimensions": dimensions,
        }
        queries.append({"id": query_id, "metric": watched})
    return {"metric_queries": queries}
