"""The ha topology's database: RDS PostgreSQL in a DB subnet group, reachable only from the
boxes, its master password kept by RDS in Secrets Manager."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from service.contract import DATABASE_NAME, DATABASE_PORT, DATABASE_USER

ENGINE, ENGINE_VERSION = "postgres", "17"  # the major version; RDS applies minor upgrades
BACKUP_RETENTION_DAYS = 7  # automated backups and point-in-time restore over the last 7 days


@dataclass(frozen=True)
class DatabaseArgs:
    """Its size, its network, and the one security group that may connect."""

    stack: str
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    instances_security_group_id: pulumi.Input[str]
    secret_parameter: str  # contract.database_secret_parameter: where the boxes find the secret
    instance_class: str = "db.t4g.micro"
    storage_gb: int = 20
    tags: dict[str, str] = field(default_factory=dict)


class Database(pulumi.ComponentResource):
    """One RDS PostgreSQL instance: gp3, encrypted, private, 7 days of point-in-time restore, a
    final snapshot when it is deleted."""

    address: pulumi.Output[str]
    """The instance's DNS name (APP_DATABASE_URL's host)."""
    identifier: pulumi.Output[str]
    """The DBInstanceIdentifier: the dimension of its CloudWatch metrics."""
    secret_arn: pulumi.Output[str]
    """The RDS-managed secret ({username, password}) the boxes read at start."""

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("onebox:database:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        subnets = aws.rds.SubnetGroup(
            f"{name}-subnets", subnet_ids=args.subnet_ids, tags=args.tags, opts=child
        )
        group = self._security_group(name, args)
        instance = aws.rds.Instance(
            f"{name}-postgres",
            engine=ENGINE,
            engine_version=ENGINE_VERSION,
            instance_class=args.instance_class,
            allocated_storage=args.storage_gb,
            storage_type="gp3",
            storage_encrypted=True,  # under the account's aws/rds key
            publicly_accessible=False,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[group.id],
            port=DATABASE_PORT,
            db_name=DATABASE_NAME,
            username=DATABASE_USER,
            # RDS generates the password, keeps it in Secrets Manager (aws/secretsmanager key)
            # and rotates it; the boxes read it at start (onebox-secrets). No password in state.
            manage_master_user_password=True,
            backup_retention_period=BACKUP_RETENTION_DAYS,
            # A final snapshot rather than deletion protection: `pulumi destroy` works in one
            # step, as it does for the single box, and the data outlives the instance (the
            # snapshot is kept until someone deletes it). Automated backups are kept too, so a
            # point-in-time restore still reaches the last 7 days after a deletion.
            skip_final_snapshot=False,
            final_snapshot_identifier=f"onebox-{args.stack}-final",
            delete_automated_backups=False,
            copy_tags_to_snapshot=True,
            # One AZ: the fleet survives losing an AZ's boxes, the database restores from its
            # backups (docs/infrastructure.md says what Multi-AZ would add, at twice the price).
            multi_az=False,
            auto_minor_version_upgrade=True,
            tags=args.tags,
            opts=child,
        )
        self.address, self.identifier = instance.address, instance.identifier
        self.secret_arn = instance.master_user_secrets.apply(
            lambda secrets: str(secrets[0].secret_arn)
        )
        aws.ssm.Parameter(
            f"{name}-secret-parameter",
            name=args.secret_parameter,
            type="String",  # the secret's ARN, no secret: the secret itself stays in RDS's hands
            value=self.secret_arn,
            description="onebox: the RDS-managed secret of the database (onebox-secrets reads it)",
            tags=args.tags,
            opts=child,
        )
        self.register_outputs(
            {"address": self.address, "identifier": self.identifier, "secret_arn": self.secret_arn}
        )

    def _security_group(self, name: str, args: DatabaseArgs) -> aws.ec2.SecurityGroup:
        """PostgreSQL from the boxes' group only, and the boxes' egress to it."""
        child = pulumi.ResourceOptions(parent=self)
        group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            description="onebox database: PostgreSQL from the boxes only",
            vpc_id=args.vpc_id,
            tags={**args.tags, "Name": f"{name}-sg"},
            opts=child,
        )
        port: dict[str, Any] = {
            "ip_protocol": "tcp",
            "from_port": DATABASE_PORT,
            "to_port": DATABASE_PORT,
        }
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-from-boxes",
            security_group_id=group.id,
            description="PostgreSQL from the boxes' security group only",
            referenced_security_group_id=args.instances_security_group_id,
            opts=child,
            **port,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-boxes-out",
            security_group_id=args.instances_security_group_id,
            description="PostgreSQL to the database's security group only",
            referenced_security_group_id=group.id,
            opts=child,
            **port,
        )
        return group
