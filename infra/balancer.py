"""The ha topology's load balancer: an internet-facing ALB across the default VPC's subnets (one
per AZ, two AZs at least), its HTTP listener, and the target group the fleet registers in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.network import CLOUDFRONT_PREFIX_LIST, _family
from service.contract import GRACEFUL_TIMEOUT_SECONDS, HEALTH_READY_PATH

# The health check: a target is in after 2 good answers 10 s apart, out after 2 bad ones, so
# a box that stops being ready stops getting requests within about 20 s.
HEALTH_INTERVAL, HEALTH_TIMEOUT, HEALTH_THRESHOLD = 10, 5, 2
IDLE_TIMEOUT_SECONDS = 60  # the ALB's default, stated: nginx's keepalive_timeout must exceed it


@dataclass(frozen=True)
class BalancerArgs:
    """Where the balancer lives, who may reach its listener, and where it sends requests."""

    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]  # the default VPC's subnets, one per AZ
    http_port: int  # the listener's port and the boxes' (CloudFront's origin port)
    instances_security_group_id: pulumi.Input[str]  # the boxes', which it forwards to
    from_cloudfront: bool = True  # else the listener admits allowed_cidrs
    allowed_cidrs: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)


class Balancer(pulumi.ComponentResource):
    """An ALB whose listener admits CloudFront's origin-facing addresses only (or allowed_cidrs
    with edge none, as the box's port would) and forwards to the target group."""

    dns_name: pulumi.Output[str]
    """The ALB's DNS name: CloudFront's origin, or the URL's host with edge none."""
    arn_suffix: pulumi.Output[str]
    """The ALB's ARN suffix: the LoadBalancer dimension of its CloudWatch metrics."""
    target_group_arn: pulumi.Output[str]
    """The target group the fleet's instances register in."""
    target_group_arn_suffix: pulumi.Output[str]
    """The target group's ARN suffix: the TargetGroup dimension."""
    security_group_id: pulumi.Output[str]
    """The ALB's security group: the only source the boxes admit on the HTTP port."""

    def __init__(self, name: str, args: BalancerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("onebox:balancer:Balancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            description="onebox ALB: HTTP in from the edge, HTTP out to the boxes",
            vpc_id=args.vpc_id,
            tags={**args.tags, "Name": f"{name}-sg"},
            opts=child,
        )
        self._rules(name, args, group)
        balancer = aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=False,
            subnets=args.subnet_ids,
            security_groups=[group.id],
            # Requests with header names nginx could read two ways are dropped at the edge.
            drop_invalid_header_fields=True,
            # Shorter than nginx's keepalive_timeout (65 s) on the boxes: the balancer closes
            # idle connections first, so it never sends a request on one nginx is closing.
            idle_timeout=IDLE_TIMEOUT_SECONDS,
            tags=args.tags,
            opts=child,
        )
        target_group = aws.lb.TargetGroup(
            f"{name}-targets",
            port=args.http_port,
            protocol="HTTP",
            target_type="instance",
            vpc_id=args.vpc_id,
            # As long as gunicorn drains on a stop: a request in flight when the instance
            # leaves (scale-in, instance refresh) has the same 30 s either way.
            deregistration_delay=GRACEFUL_TIMEOUT_SECONDS,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                path=HEALTH_READY_PATH,
                protocol="HTTP",
                matcher="200",
                interval=HEALTH_INTERVAL,
                timeout=HEALTH_TIMEOUT,
                healthy_threshold=HEALTH_THRESHOLD,
                unhealthy_threshold=HEALTH_THRESHOLD,
            ),
            tags=args.tags,
            opts=child,
        )
        aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=balancer.arn,
            port=args.http_port,
            protocol="HTTP",  # CloudFront speaks HTTP to its origin, as it does to the box
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group.arn)
            ],
            tags=args.tags,
            opts=child,
        )
        self.dns_name, self.arn_suffix = balancer.dns_name, balancer.arn_suffix
        self.target_group_arn = target_group.arn
        self.target_group_arn_suffix = target_group.arn_suffix
        self.security_group_id = group.id
        self.register_outputs(
            {
                "dns_name": self.dns_name,
                "arn_suffix": self.arn_suffix,
                "target_group_arn": self.target_group_arn,
                "target_group_arn_suffix": self.target_group_arn_suffix,
                "security_group_id": self.security_group_id,
            }
        )

    def _rules(self, name: str, args: BalancerArgs, group: aws.ec2.SecurityGroup) -> None:
        child = pulumi.ResourceOptions(parent=self)
        port: dict[str, Any] = {
            "ip_protocol": "tcp",
            "from_port": args.http_port,
            "to_port": args.http_port,
        }
        if args.from_cloudfront:
            prefix_list = aws.ec2.get_managed_prefix_list_output(
                name=CLOUDFRONT_PREFIX_LIST, opts=pulumi.InvokeOutputOptions(parent=self)
            )
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-http-cloudfront",
                security_group_id=group.id,
                description="HTTP from CloudFront's origin-facing addresses only",
                prefix_list_id=prefix_list.id,
                opts=child,
                **port,
            )
        for index, cidr in enumerate(() if args.from_cloudfront else args.allowed_cidrs):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-http-{index}",
                security_group_id=group.id,
                description=f"HTTP from {cidr}",
                opts=child,
                **port,
                **_family(cidr),
            )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-to-boxes",
            security_group_id=group.id,
            description="HTTP and health checks to the boxes only",
            referenced_security_group_id=args.instances_security_group_id,
            opts=child,
            **port,
        )
