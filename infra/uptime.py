"""The outside uptime check: a Route 53 health check on the public URL's readiness route, and
an alarm on its status in us-east-1, the only region where Route 53 publishes HealthCheckStatus."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.alarm_specs import UPTIME_PATH, uptime_alarm
from infra.alerting import alarm_topic, metric_alarm

ALARM_REGION = "us-east-1"
REQUEST_INTERVAL = 30  # seconds between checks per checker region (10 costs an extra feature)
FAILURE_THRESHOLD = 3  # consecutive failures before a checker calls the endpoint unhealthy
# The fewest checker regions Route 53 accepts (3): all of them would send a t2.micro about one
# request every 2 s, as many as its users; three, near PriceClass_100's viewers, do a third.
CHECKER_REGIONS = ("us-east-1", "us-west-2", "eu-west-1")


@dataclass(frozen=True)
class UptimeArgs:
    """What to probe (a host name over HTTPS, or the box's address over HTTP) and whom to tell."""

    host: pulumi.Input[str]  # the public name (edge) or the box's public IPv4 (edge none)
    https: bool
    port: int
    region: str  # the stack's region: its topic can take a us-east-1 alarm only if it matches
    topic_arn: pulumi.Input[str]
    alert_email: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


def health_check_config(args: UptimeArgs) -> dict[str, Any]:
    """The HealthCheck arguments: HTTPS to a name (SNI on), or HTTP to an IP address."""
    common = {
        "resource_path": UPTIME_PATH,
        "port": args.port,
        "request_interval": REQUEST_INTERVAL,
        "failure_threshold": FAILURE_THRESHOLD,
        "regions": list(CHECKER_REGIONS),
    }
    if args.https:
        return {"type": "HTTPS", "fqdn": args.host, "enable_sni": True, **common}
    return {"type": "HTTP", "ip_address": args.host, **common}


class Uptime(pulumi.ComponentResource):
    """A Route 53 health check and its us-east-1 alarm, notifying the stack's topic or, when the
    stack lives elsewhere, a us-east-1 topic subscribed like it."""

    health_check_id: pulumi.Output[str]
    """The Route 53 health check's id (the HealthCheckId dimension of its metric)."""
    topic_arn: pulumi.Output[str]
    """The topic the uptime alarm notifies."""

    def __init__(self, name: str, args: UptimeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("onebox:uptime:Uptime", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # The metric exists in us-east-1 only, so the alarm must live there too.
        provider = aws.Provider(f"{name}-{ALARM_REGION}", region=ALARM_REGION, opts=child)
        in_east = pulumi.ResourceOptions(parent=self, provider=provider)
        check = aws.route53.HealthCheck(
            f"{name}-check",
            tags={**args.tags, "Name": f"{name}-check"},
            opts=child,
            **health_check_config(args),
        )
        # An alarm notifies topics of its own region only. SNS cannot subscribe one topic to
        # another, so a stack outside us-east-1 gets a small us-east-1 topic with the same policy
        # and the same e-mail subscription as the main one.
        topic: pulumi.Input[str] = args.topic_arn
        if args.region != ALARM_REGION:
            topic = self._east_topic(name, args, in_east)
        spec = uptime_alarm()
        dimensions = {"HealthCheckId": check.id}
        metric_alarm(f"{name}-{spec.key}", spec, dimensions, [topic], topic, args.tags, in_east)
        self.health_check_id = check.id
        self.topic_arn = pulumi.Output.from_input(topic)
        self.register_outputs(
            {"health_check_id": self.health_check_id, "topic_arn": self.topic_arn}
        )

    def _east_topic(
        self, name: str, args: UptimeArgs, in_east: pulumi.ResourceOptions
    ) -> pulumi.Output[str]:
        topic = alarm_topic(self, name, args.alert_email, args.tags, in_east)
        return topic.arn
