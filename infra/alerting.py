"""The alarm topic: an SNS topic the alarms and the budget notify, its policy, and the e-mail
subscription when there is an address (a helper of the components; declares under `opts`)."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from infra import policies


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
