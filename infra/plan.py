"""`make plan`: an offline estimate of what the stack declares and what it costs a month.

Runs the real __main__.py under the Pulumi SDK's mocks with the stack's config (Pulumi.yaml
defaults + Pulumi.<stack>.yaml). No AWS call, no Pulumi CLI, no comparison with a deployed
stack: it is NOT `pulumi preview`.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
from typing import Any

from infra import config, costs, ha_costs, userdata
from infra.config import HA_MIN_SIZE
from infra.database import BACKUP_RETENTION_DAYS
from infra.mocks import Declared, Run, run_program, stack_values
from service.contract import BACKUP_EVERY_SECONDS, BOX_BASE, TOPOLOGIES

# The inputs worth reading per resource type (camelCase, as declared).
KEY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "aws:ec2/instance:Instance": ("instanceType", "ami", "metadataOptions", "rootBlockDevice",
                                  "creditSpecification"),
    "aws:ec2/eip:Eip": ("domain",),
    "aws:ec2/securityGroup:SecurityGroup": ("description",),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("description",),
    "aws:s3/bucket:Bucket": ("bucketPrefix",),
    "aws:s3/bucketVersioning:BucketVersioning": ("versioningConfiguration",),
    "aws:s3/bucketObjectv2:BucketObjectv2": ("key",),
    "aws:ssm/parameter:Parameter": ("name", "type"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("description", "prefixListId"),
    "aws:cloudfront/distribution:Distribution": ("httpVersion", "priceClass", "aliases"),
    "aws:acm/certificate:Certificate": ("domainName", "validationMethod"),
    "aws:route53/record:Record": ("name", "type"),
    "random:index/randomPassword:RandomPassword": ("length", "special"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("policyArn",),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("alarmDescription",),
    "aws:route53/healthCheck:HealthCheck": ("type", "fqdn", "ipAddress", "port", "resourcePath"),
    "pulumi:providers:aws": ("region",),
    "aws:budgets/budget:Budget": ("limitAmount", "limitUnit"),
    "aws:sns/topicSubscription:TopicSubscription": ("protocol", "endpoint"),
    "aws:lb/loadBalancer:LoadBalancer": ("loadBalancerType", "internal"),
    "aws:lb/targetGroup:TargetGroup": ("port", "deregistrationDelay", "healthCheck"),
    "aws:lb/listener:Listener": ("port", "protocol"),
    "aws:ec2/launchTemplate:LaunchTemplate": ("instanceType", "metadataOptions"),
    "aws:autoscaling/group:Group": ("minSize", "maxSize", "healthCheckType"),
    "aws:autoscaling/policy:Policy": ("policyType",),
    "aws:rds/instance:Instance": ("instanceClass", "engine", "allocatedStorage", "storageType",
                                  "storageEncrypted", "publiclyAccessible",
                                  "backupRetentionPeriod", "manageMasterUserPassword"),
}  # fmt: skip
FLAGS = ("retain_on_delete", "delete_before_replace", "ignore_changes")
HEADLINE = (
    "OFFLINE ESTIMATE, not `pulumi preview`: the real __main__.py ran under the Pulumi SDK's "
    "mocks with the {stack} stack's config; no AWS call was made and no deployed state was read."
)


def _short(value: Any, limit: int = 90) -> str:
    text = json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(resource: Declared) -> str:
    """One line: type, name, key properties and the resource options that matter."""
    parts = [
        f"{key}={_short(resource.inputs[key])}"
        for key in KEY_PROPERTIES.get(resource.type, ())
        if key in resource.inputs
    ]
    parts += [f"[{flag}={resource.options[flag]}]" for flag in FLAGS if resource.options.get(flag)]
    return f"  {resource.type:<62} {resource.name:<32} {' '.join(parts)}".rstrip()


def cost_table(breakdown: dict[str, float], total: float, free_tier: str) -> list[str]:
    """The monthly cost lines: one per item, then the total."""
    lines = [f"Monthly cost (USD, us-east-1 list prices of {costs.PRICES_AS_OF}, "
             f"freeTier={free_tier}):"]  # fmt: skip
    lines += [f"  {item:<24} {usd:>9.4f}" for item, usd in breakdown.items()]
    lines.append(f"  {'total':<24} {total:>9.2f}")
    return lines


def user_data_size(run: Run) -> list[str]:
    """How close the box's user-data is to its 4 KB limit (nothing when paused)."""
    instances = run.of_type("aws:ec2/instance:Instance")
    templates = run.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    if templates:  # ha: the launch template holds it base64-encoded
        size = len(base64.b64decode(templates[0].inputs["userData"]))
        return [f"User-data: {size} bytes, plain text (limit {userdata.USER_DATA_LIMIT})"]
    if not instances:
        return ["User-data: none (running=false: no instance)"]
    size = len(instances[0].inputs["userData"].encode())
    return [f"User-data: {size} bytes, plain text (limit {userdata.USER_DATA_LIMIT})"]


# What a change does to the instance itself, beyond the user-data (EC2's own rules).
INSTANCE_EFFECTS = {
    "ami_id": "REPLACES the box (a new launch image; final backup, then restore)",
    "instance_type": "stops and starts the box in place (same disk, same data)",
    "running": "removes or creates the box (final backup / restore)",
}


# Keys whose change reaches the box or the edge by another way than the user-data or settings.
OTHER_EFFECTS = {
    "api_token": "no replacement: its SecureString; the box picks it up within a minute",
    "edge": "adds or removes the distribution (the url changes) and the HTTP port's sources",
    "domain": "no replacement: the certificate, the aliases and the url change",
    "hosted_zone_id": "no replacement: where the certificate's and the alias records live",
    "allowed_cidrs": "no replacement: the HTTP port's sources, with edge none only",
    "topology": "moves the service: one topology's servers go, the other's come (the data's "
    "move: docs/backups.md)",
    "asg_max": "ha: no replacement, the group's max size",
    "db_instance_class": "ha: RDS changes the class in its next maintenance window",
    "db_storage_gb": "ha: RDS grows the volume in place (it never shrinks)",
}


def _field(key: str) -> str:
    """The StackConfig field of a config key (httpPort -> http_port, aws:region -> region)."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key.rsplit(":", 1)[-1]).lower()


def effect(key: str) -> str:
    """What changing one config key does to the running box."""
    field = _field(key)
    if field in userdata.FACT_FIELDS:
        return "REPLACES the box (the key is in the user-data)"
    if field in INSTANCE_EFFECTS:
        return INSTANCE_EFFECTS[field]
    if field in OTHER_EFFECTS:
        return OTHER_EFFECTS[field]
    if field in userdata.SETTING_FIELDS:
        return "no replacement: the settings parameter; the agent rewrites the env file"
    return "no replacement: nothing on the box reads it"


def replacements() -> list[str]:
    """Per config key, whether a change replaces the box (from what the user-data holds)."""
    lines = ["What a config change does to the box:"]
    lines += [f"  {key:<22} {effect(key)}" for key in config.KEYS]
    lines.append(
        f"  and a change to {', '.join(BOX_BASE)} REPLACES the box (their digest is in the "
        "user-data); other code is deployed by the agent"
    )
    return lines


def alerts_and_budget(run: Run) -> list[str]:
    """Who hears the alarms, and whether the budget sits above the list cost."""
    lines = [f"Alerts: {run.outputs['alerts']}"]
    if run.outputs["alerts"] == config.NO_SUBSCRIBER:
        lines[0] = f"WARNING: {lines[0]}"
    (budget,) = run.of_type("aws:budgets/budget:Budget")
    limit, cost = float(budget.inputs["limitAmount"]), run.outputs["monthly_cost_usd"]
    verdict = "above" if limit > cost else "NOT above: it will alarm every month"
    lines.append(f"Budget: {limit:.2f} USD/month, {verdict} the list cost of {cost:.2f}")
    return lines


def data_protection(topology: str) -> list[str]:
    """Where the data lives and what protects it, in words."""
    if topology == "ha":
        return [
            "Data (topology ha): RDS PostgreSQL. Its automated backups, kept "
            f"{BACKUP_RETENTION_DAYS} days with point-in-time restore, replace the S3 SQLite "
            "backups: the boxes do not run onebox-backup.timer or onebox-data.service (the "
            "user-data's drop-ins skip them), and deleting the database leaves a final snapshot."
        ]
    return [
        "Data (topology single): SQLite on the box, backed up to the bucket every "
        f"{BACKUP_EVERY_SECONDS // 60} minutes and at every stop; a new box restores the newest."
    ]


def report(run: Run, stack: str, free_tier: str, topology: str = "single") -> list[str]:
    """The whole plan as lines of text."""
    lines = [HEADLINE.format(stack=stack), "", f"Resources ({len(run.resources)}):"]
    lines += [describe(resource) for resource in run.resources]
    lines += ["", "Outputs (ids, addresses and ARNs are mock placeholders):"]
    lines += [
        f"  {name:<22} {'[secret]' if name in run.secret_outputs else _short(value, 200)}"
        for name, value in run.outputs.items()
        if name not in ("cost_breakdown", "monthly_cost_usd", "alerts")
    ]
    lines += ["", *user_data_size(run), *alerts_and_budget(run), "", *data_protection(topology)]
    lines += ["", *replacements()]
    lines.append("")
    lines += cost_table(run.outputs["cost_breakdown"], run.outputs["monthly_cost_usd"], free_tier)
    if topology == "ha":
        lines.append(
            f"  ha rows (alb_*, rds_*, secrets_manager, *_x{HA_MIN_SIZE} at the group's min size): "
            f"list prices of {ha_costs.HA_PRICES_AS_OF}, transcribed, re-check (infra/ha_costs.py)"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Print the offline plan of a stack; 2 on a bad stack name or config value."""
    parser = argparse.ArgumentParser(prog="python -m infra.plan", description=__doc__)
    parser.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml to use")
    parser.add_argument(
        "--topology", choices=TOPOLOGIES, help="plan this topology instead of the stack's"
    )
    args = parser.parse_args(argv)
    try:
        values = stack_values(args.stack)
        if args.topology:
            values["topology"] = args.topology
        run = run_program(values, stack=args.stack)
    except ValueError as error:
        print(f"plan: {error}", file=sys.stderr)
        return 2
    free_tier = str(values.get("freeTier", config.DEFAULTS.free_tier))
    topology = str(values.get("topology", config.DEFAULTS.topology))
    print("\n".join(report(run, args.stack, free_tier, topology)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
