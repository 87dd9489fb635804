"""The ha topology's boxes: a launch template with the single box's bootstrap, an auto scaling
group of 2..asgMax across the default VPC's AZs behind the target group, and its scaling
policy. Each box has the single box's role, plus read access to the database's secret."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra import policies
from infra.config import HA_MIN_SIZE
from infra.server import ROOT_VOLUME_GB, box_documents, box_image, box_profile

# Target tracking on requests per box: a t2.micro at its CPU baseline serves 60-100 requests a
# second, so the group adds a box above 50 a second (3000 a minute, the metric's unit) on
# average. Not CPU: a burstable box out of credits is held at its baseline CPU, where a CPU
# target above the baseline is never reached.
REQUESTS_PER_TARGET_PER_MINUTE = 3000.0
# First boot installs packages, the venv and the release: ELB health checks count from then.
BOOT_GRACE_SECONDS = 900
WARMUP_SECONDS = 300
# Instance refresh (a change of the bootstrap: units, installer parts, requirements): launch
# one new box before terminating an old one (150 % of 2 is 3), so two boxes always serve.
REFRESH_MIN_HEALTHY, REFRESH_MAX_HEALTHY = 100, 150


@dataclass(frozen=True)
class FleetArgs:
    """What the boxes run on, what they may touch, and the balancer they serve behind."""

    instance_type: str
    ami_id: str | None
    security_group_id: pulumi.Input[str]  # the boxes' (the network's)
    balancer_security_group_id: pulumi.Input[str]  # the only source of the HTTP port
    http_port: int
    user_data: pulumi.Input[str]  # plain-text cloud-config (infra.userdata.render)
    subnet_ids: pulumi.Input[Sequence[str]]
    target_group_arn: pulumi.Input[str]
    request_count_label: pulumi.Input[str]  # "<alb arn suffix>/<target group arn suffix>"
    max_size: int
    bucket_arn: pulumi.Input[str]
    release_parameter_arn: pulumi.Input[str]
    metrics_namespace: str
    database_secret_arn: pulumi.Input[str]
    log_group_arn: pulumi.Input[str]
    boot_after: Sequence[pulumi.Resource] = ()
    tags: dict[str, str] = field(default_factory=dict)


class Fleet(pulumi.ComponentResource):
    """Launch template, auto scaling group (ELB health checks, instance refresh) and policy."""

    group_name: pulumi.Output[str]
    """The auto scaling group's name: SSM deploys target its instances by it."""

    def __init__(self, name: str, args: FleetArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("onebox:fleet:Fleet", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-http-from-alb",
            security_group_id=args.security_group_id,
            description="HTTP from the load balancer only",
            ip_protocol="tcp",
            from_port=args.http_port,
            to_port=args.http_port,
            referenced_security_group_id=args.balancer_security_group_id,
            opts=child,
        )
        profile, grants = self._profile(name, args)
        template = self._template(name, args, profile)
        group = aws.autoscaling.Group(
            f"{name}-asg",
            min_size=HA_MIN_SIZE,
            max_size=args.max_size,
            vpc_zone_identifiers=args.subnet_ids,
            target_group_arns=[args.target_group_arn],
            # The balancer's readiness check decides: a box that stops serving is replaced.
            health_check_type="ELB",
            health_check_grace_period=BOOT_GRACE_SECONDS,
            default_instance_warmup=WARMUP_SECONDS,
            wait_for_capacity_timeout="20m",
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            # A new template version (the bootstrap changed) rolls through the group by itself.
            instance_refresh=aws.autoscaling.GroupInstanceRefreshArgs(
                strategy="Rolling",
                preferences=aws.autoscaling.GroupInstanceRefreshPreferencesArgs(
                    min_healthy_percentage=REFRESH_MIN_HEALTHY,
                    max_healthy_percentage=REFRESH_MAX_HEALTHY,
                    instance_warmup=str(WARMUP_SECONDS),
                    skip_matching=True,
                ),
            ),
            tags=[
                aws.autoscaling.GroupTagArgs(key=key, value=value, propagate_at_launch=True)
                for key, value in {**args.tags, "Name": name}.items()
            ],
            # The grants and what the bootstrap reads exist before any box boots, and outlive
            # the boxes on destroy (their shutdown still reaches CloudWatch and SSM).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.boot_after, *grants]),
        )
        aws.autoscaling.Policy(
            f"{name}-requests",
            autoscaling_group_name=group.name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration=aws.autoscaling.PolicyTargetTrackingConfigurationArgs(
                predefined_metric_specification=aws.autoscaling.PolicyTargetTrackingConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type="ALBRequestCountPerTarget",
                    resource_label=args.request_count_label,
                ),
                target_value=REQUESTS_PER_TARGET_PER_MINUTE,
            ),
            opts=child,
        )
        self.group_name = group.name
        self.register_outputs({"group_name": self.group_name})

    def _profile(
        self, name: str, args: FleetArgs
    ) -> tuple[aws.iam.InstanceProfile, list[pulumi.Resource]]:
        """The single box's grants (infra/server.py), and its database's secret."""
        documents = box_documents(
            args.bucket_arn, args.release_parameter_arn, args.metrics_namespace
        )
        documents["logs-policy"] = pulumi.Output.from_input(args.log_group_arn).apply(
            lambda arn: json.dumps(policies.logs_policy(arn))
        )
        documents["database-secret"] = pulumi.Output.from_input(args.database_secret_arn).apply(
            lambda arn: json.dumps(policies.database_secret_policy(arn))
        )
        return box_profile(self, name, args.tags, documents)

    def _template(
        self, name: str, args: FleetArgs, profile: aws.iam.InstanceProfile
    ) -> aws.ec2.LaunchTemplate:
        return aws.ec2.LaunchTemplate(
            f"{name}-template",
            image_id=box_image(self, args.ami_id),
            instance_type=args.instance_type,
            iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=profile.arn),
            # A launch template takes its user-data base64-encoded; the text is the box's.
            user_data=pulumi.Output.from_input(args.user_data).apply(
                lambda text: base64.b64encode(text.encode()).decode()
            ),
            # A public IPv4 address each (0.005 USD an hour): the way out to SSM, CloudWatch,
            # Secrets Manager and dnf. No address would need NAT or an interface endpoint per
            # service and AZ, each dearer than the address (docs/infrastructure.md).
            network_interfaces=[
                aws.ec2.LaunchTemplateNetworkInterfaceArgs(
                    associate_public_ip_address="true",
                    security_groups=[args.security_group_id],
                    delete_on_termination="true",
                )
            ],
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",  # AL2023's root device
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_type="gp3",
                        volume_size=ROOT_VOLUME_GB,
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
            credit_specification=aws.ec2.LaunchTemplateCreditSpecificationArgs(
                cpu_credits="standard"
            ),
            update_default_version=True,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
