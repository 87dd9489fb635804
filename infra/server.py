"""The box: an IMDSv2-only t2/t3 instance with an encrypted gp3 root, a role and an Elastic IP."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra import policies
from infra.config import AL2023_AMI_PARAMETER

ROOT_VOLUME_GB = 8


@dataclass(frozen=True)
class ServerArgs:
    """What the box runs on, what it may touch, and what it boots with."""

    instance_type: str
    ami_id: str | None  # None: the newest AL2023 AMI (from the SSM public parameter)
    security_group_id: pulumi.Input[str]
    user_data: pulumi.Input[str]  # plain-text cloud-config (infra.userdata.render)
    bucket_arn: pulumi.Input[str]
    release_parameter_arn: pulumi.Input[str]
    metrics_namespace: str
    restore_bucket: str | None = None
    log_group_arn: pulumi.Input[str] | None = None  # None: the box ships no logs
    boot_after: Sequence[pulumi.Resource] = ()
    tags: dict[str, str] = field(default_factory=dict)


class Server(pulumi.ComponentResource):
    """The EC2 instance with its instance profile and a stable public address."""

    instance_id: pulumi.Output[str]
    """The instance's id (targets of SSM sessions and alarm dimensions)."""
    public_ip: pulumi.Output[str]
    """The Elastic IP: the address survives replacement of the instance."""
    public_dns: pulumi.Output[str]
    """The Elastic IP's public DNS name (CloudFront's origin: an origin must be a name)."""

    def __init__(self, name: str, args: ServerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("onebox:server:Server", name, None, opts)
        profile, grants = self._profile(name, args)
        instance = self._instance(name, args, profile, grants)
        address = aws.ec2.Eip(
            f"{name}-ip", domain="vpc", tags=args.tags, opts=pulumi.ResourceOptions(parent=self)
        )
        aws.ec2.EipAssociation(
            f"{name}-ip-association",
            instance_id=instance.id,
            allocation_id=address.allocation_id,
            # deleted_with: Pulumi never disassociates the address of a box it is terminating;
            # AWS drops the association when the instance is gone. So the old box keeps its
            # public address while it stops, and its last log lines still reach CloudWatch.
            opts=pulumi.ResourceOptions(parent=self, deleted_with=instance),
        )
        self.instance_id, self.public_ip = instance.id, address.public_ip
        self.public_dns = address.public_dns
        self.register_outputs(
            {
                "instance_id": self.instance_id,
                "public_ip": self.public_ip,
                "public_dns": self.public_dns,
            }
        )

    def _profile(
        self, name: str, args: ServerArgs
    ) -> tuple[aws.iam.InstanceProfile, list[pulumi.Resource]]:
        """The instance profile, and the grants the box needs from first boot to final backup."""
        restore_arn = f"arn:aws:s3:::{args.restore_bucket}" if args.restore_bucket else None
        documents = box_documents(
            args.bucket_arn, args.release_parameter_arn, args.metrics_namespace, restore_arn
        )
        if args.log_group_arn is not None:
            documents["logs-policy"] = pulumi.Output.from_input(args.log_group_arn).apply(
                lambda arn: json.dumps(policies.logs_policy(arn))
            )
        return box_profile(self, name, args.tags, documents)

    def _instance(
        self,
        name: str,
        args: ServerArgs,
        profile: aws.iam.InstanceProfile,
        grants: list[pulumi.Resource],
    ) -> aws.ec2.Instance:
        options = pulumi.ResourceOptions(
            parent=self,
            # Pulumi deletes a resource as soon as nothing depends on it: without these, a
            # pause or destroy would revoke the box's S3 grant, egress or S3 endpoint (the
            # network's; its only way to S3 once the Elastic IP is gone) before terminating
            # it, and its final backup would fail. Depending on them also means the first
            # boot never races the policy.
            depends_on=[*args.boot_after, *grants],
            # delete_before_replace: the old box's shutdown runs its final backup, then the
            # new box's first boot restores that newest backup. Create-before-delete would boot
            # the new box (restoring an older backup) while the old one still takes writes,
            # and every write made in between would be lost.
            delete_before_replace=True,
            # Unpinned, the AMI is "newest at creation": a new AMI release must not replace
            # the box on the next `pulumi up` by surprise. Pin amiId to move on deliberately.
            ignore_changes=["ami"] if args.ami_id is None else None,
        )
        return aws.ec2.Instance(
            f"{name}-instance",
            ami=box_image(self, args.ami_id),
            instance_type=args.instance_type,
            iam_instance_profile=profile.name,
            vpc_security_group_ids=[args.security_group_id],
            user_data=args.user_data,
            # The user-data holds stack facts only (bucket, parameters, port, region): a change
            # of those needs a fresh box, in the order above. Settings and code never touch it.
            user_data_replace_on_change=True,
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": 1,
            },
            root_block_device={
                "volume_type": "gp3",
                "volume_size": ROOT_VOLUME_GB,
                "encrypted": True,
                "delete_on_termination": True,
            },
            credit_specification={"cpu_credits": "standard"},
            monitoring=False,
            tags={**args.tags, "Name": name},
            opts=options,
        )


def box_documents(
    bucket_arn: pulumi.Input[str],
    release_parameter_arn: pulumi.Input[str],
    metrics_namespace: str,
    restore_arn: str | None = None,
) -> dict[str, pulumi.Input[str]]:
    """A box's inline policies by name suffix: the instance policy and Session Manager's."""
    return {
        "policy": pulumi.Output.all(bucket_arn, release_parameter_arn).apply(
            lambda arns: json.dumps(
                policies.instance_policy(arns[0], arns[1], metrics_namespace, restore_arn)
            )
        ),
        # Inline, instead of the managed AmazonSSMManagedInstanceCore: that one also reads
        # every SSM parameter of the account.
        "session-manager": json.dumps(policies.session_manager_policy()),
    }


def box_profile(
    parent: pulumi.Resource,
    name: str,
    tags: pulumi.Input[dict[str, str]],
    documents: dict[str, pulumi.Input[str]],
) -> tuple[aws.iam.InstanceProfile, list[pulumi.Resource]]:
    """An EC2 role with `documents` as inline policies (`<name>-<suffix>`), and its profile."""
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        f"{name}-role",
        assume_role_policy=json.dumps(policies.assume_role_policy()),
        tags=tags,
        opts=child,
    )
    grants: list[pulumi.Resource] = [
        aws.iam.RolePolicy(f"{name}-{suffix}", role=role.id, policy=document, opts=child)
        for suffix, document in documents.items()
    ]
    profile = aws.iam.InstanceProfile(f"{name}-profile", role=role.name, opts=child)
    return profile, grants


def box_image(parent: pulumi.Resource, ami_id: str | None) -> pulumi.Input[str]:
    """`ami_id`, or the newest AL2023 AMI from its SSM public parameter."""
    if ami_id is not None:
        return ami_id
    parameter = aws.ssm.get_parameter_output(
        name=AL2023_AMI_PARAMETER, opts=pulumi.InvokeOutputOptions(parent=parent)
    )
    return parameter.value
