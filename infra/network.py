"""The network: the default VPC, an S3 gateway endpoint on its route tables, and the box's
security group with one described rule each."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

# AWS does not filter traffic to the VPC resolver (VPC base + 2) or the link-local Time Sync
# service by security group; the rules are declared anyway so the intent is reviewable.
AMAZON_NTP = "169.254.169.123/32"
WORLD = ("0.0.0.0/0", "::/0")
# CloudFront's origin-facing addresses, kept current by AWS. It weighs about 55 entries against
# the security group's 60 inbound rules, which leaves room for the SSH rule.
CLOUDFRONT_PREFIX_LIST = "com.amazonaws.global.cloudfront.origin-facing"


@dataclass(frozen=True)
class NetworkArgs:
    """Who may reach the box: the HTTP port from CloudFront only (`from_cloudfront`, the
    default) or else from `allowed_cidrs`; SSH only from `ssh_cidr`."""

    http_port: int
    allowed_cidrs: tuple[str, ...]
    ssh_cidr: str | None
    tags: dict[str, str] = field(default_factory=dict)
    from_cloudfront: bool = True
    # False (topology ha): no HTTP rule here; the fleet admits its load balancer's group only.
    http_ingress: bool = True


def _family(cidr: str) -> dict[str, Any]:
    version = ipaddress.ip_network(cidr).version
    return {"cidr_ipv4": cidr} if version == 4 else {"cidr_ipv6": cidr}


class Network(pulumi.ComponentResource):
    """The default VPC, its S3 gateway endpoint and a security group: inbound HTTP from
    CloudFront (or from `allowed_cidrs` without an edge) + admin SSH, outbound HTTPS/DNS/NTP."""

    vpc_id: pulumi.Output[str]
    """The default VPC's id."""
    security_group_id: pulumi.Output[str]
    """The box's security group."""
    s3_endpoint_id: pulumi.Output[str]
    """The S3 gateway endpoint: the box reaches S3 through it, public address or not."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("onebox:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        vpc = aws.ec2.get_vpc_output(default=True, opts=pulumi.InvokeOutputOptions(parent=self))
        self.vpc_id = vpc.id
        group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            description="onebox: HTTP in, HTTPS/DNS/NTP out",
            vpc_id=self.vpc_id,
            tags={**args.tags, "Name": f"{name}-sg"},
            opts=child,
        )
        self.security_group_id = group.id
        self._ingress(name, args, group)
        self._egress(name, args, group, vpc.cidr_block)
        self.s3_endpoint_id = self._s3_endpoint(name, args).id
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "security_group_id": group.id,
                "s3_endpoint_id": self.s3_endpoint_id,
            }
        )

    def _s3_endpoint(self, name: str, args: NetworkArgs) -> aws.ec2.VpcEndpoint:
        """A gateway endpoint (free) on every route table of the default VPC.

        On pause, destroy or replacement the Elastic IP goes before the instance stops; the
        final backup then reaches S3 through this route instead of a public address. The
        endpoint's default policy allows everything: it changes the path to S3, not what any
        principal may do there (other instances of the default VPC keep their access).
        """
        invoke = pulumi.InvokeOutputOptions(parent=self)
        s3 = aws.ec2.get_vpc_endpoint_service_output(
            service="s3", service_type="Gateway", opts=invoke
        )
        tables = aws.ec2.get_route_tables_output(vpc_id=self.vpc_id, opts=invoke)
        return aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=self.vpc_id,
            service_name=s3.service_name,
            vpc_endpoint_type="Gateway",
            route_table_ids=tables.ids,
            tags={**args.tags, "Name": f"{name}-s3"},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _rule(self, kind: str, name: str, group: aws.ec2.SecurityGroup, **rule: Any) -> None:
        opts = pulumi.ResourceOptions(parent=self)
        if kind == "in":
            aws.vpc.SecurityGroupIngressRule(name, security_group_id=group.id, opts=opts, **rule)
        else:
            aws.vpc.SecurityGroupEgressRule(name, security_group_id=group.id, opts=opts, **rule)

    def _ingress(self, name: str, args: NetworkArgs, group: aws.ec2.SecurityGroup) -> None:
        if args.from_cloudfront and args.http_ingress:
            prefix_list = aws.ec2.get_managed_prefix_list_output(
                name=CLOUDFRONT_PREFIX_LIST, opts=pulumi.InvokeOutputOptions(parent=self)
            )
            self._rule(
                "in",
                f"{name}-http-cloudfront",
                group,
                description="HTTP from CloudFront's origin-facing addresses only",
                ip_protocol="tcp",
                from_port=args.http_port,
                to_port=args.http_port,
                prefix_list_id=prefix_list.id,
            )
        direct = args.http_ingress and not args.from_cloudfront
        for index, cidr in enumerate(args.allowed_cidrs if direct else ()):
            self._rule(
                "in",
                f"{name}-http-{index}",
                group,
                description=f"HTTP from {cidr}",
                ip_protocol="tcp",
                from_port=args.http_port,
                to_port=args.http_port,
                **_family(cidr),
            )
        if args.ssh_cidr is not None:
            # config.py refuses /0; SSM Session Manager is the normal way in.
            self._rule(
                "in",
                f"{name}-ssh",
                group,
                description=f"SSH from admin {args.ssh_cidr}",
                ip_protocol="tcp",
                from_port=22,
                to_port=22,
                **_family(args.ssh_cidr),
            )

    def _egress(
        self, name: str, args: NetworkArgs, group: aws.ec2.SecurityGroup, vpc_cidr: Any
    ) -> None:
        v6 = any(ipaddress.ip_network(cidr).version == 6 for cidr in args.allowed_cidrs)
        for cidr in WORLD if v6 else WORLD[:1]:
            suffix = "v6" if ":" in cidr else "v4"
            self._rule(
                "out",
                f"{name}-https-{suffix}",
                group,
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                description=f"HTTPS to AWS APIs, dnf and PyPI ({suffix})",
                **_family(cidr),
            )
        for proto in ("udp", "tcp"):
            self._rule(
                "out",
                f"{name}-dns-{proto}",
                group,
                ip_protocol=proto,
                from_port=53,
                to_port=53,
                description=f"DNS ({proto}) to the VPC resolver",
                cidr_ipv4=vpc_cidr,
            )
        self._rule(
            "out",
            f"{name}-ntp",
            group,
            ip_protocol="udp",
            from_port=123,
            to_port=123,
            description="NTP to the Amazon Time Sync Service",
            cidr_ipv4=AMAZON_NTP,
        )


def default_subnets(vpc_id: pulumi.Input[str]) -> pulumi.Output[list[str]]:
    """The default VPC's default subnets, one per AZ (topology ha: the balancer needs two AZs at
    least, and the fleet and the database spread over them)."""
    filters = pulumi.Output.from_input(vpc_id).apply(
        lambda vpc: [
            aws.ec2.GetSubnetsFilterArgs(name="vpc-id", values=[vpc]),
            aws.ec2.GetSubnetsFilterArgs(name="default-for-az", values=["true"]),
        ]
    )
    return aws.ec2.get_subnets_output(filters=filters).ids
