"""Composition root of the Pulumi program: load config, build the components, export outputs.

`pulumi up` runs it for real; `make plan` (infra/plan.py) and tests/infra run it under the
SDK's mocks. Nothing else knows the whole graph.
"""

from __future__ import annotations

import dataclasses

import pulumi

from infra import config, costs, ha_costs, sources, userdata
from infra.alarm_specs import (
    alarm_metric_count,
    all_alarms,
    errors_alarm,
    uptime_alarm,
)
from infra.balancer import Balancer, BalancerArgs
from infra.bucket import BackupBucket, BackupBucketArgs
from infra.config import HA_MIN_SIZE
from infra.database import Database, DatabaseArgs
from infra.edge import Edge, EdgeArgs
from infra.fleet import Fleet, FleetArgs
from infra.ha_alarms import ha_alarms
from infra.logs import ErrorsAlarm, ErrorsAlarmArgs, Logs, LogsArgs
from infra.monitoring import HaWatch, Monitoring, MonitoringArgs
from infra.network import Network, NetworkArgs, default_subnets
from infra.release import ReleaseArgs, ServiceRelease
from infra.secrets import SecretsArgs, StackSecrets
from infra.server import ROOT_VOLUME_GB, Server, ServerArgs
from infra.settings import BoxSettings, SettingsArgs
from infra.tags import tags
from service.contract import (
    api_token_parameter,
    database_secret_parameter,
    metrics_namespace,
    origin_secret_parameter,
    release_parameter,
    sentry_dsn_parameter,
    settings_parameter,
)

settings = config.load()
stack = pulumi.get_stack()
namespace = metrics_namespace(stack)
with_edge = settings.edge == "cloudfront"
ha = settings.topology == "ha"  # an ALB, an auto scaling group and RDS; else the one box

network = Network(
    "onebox-network",
    NetworkArgs(
        settings.http_port,
        settings.allowed_cidrs,
        settings.ssh_cidr,
        tags(stack, "network"),
        from_cloudfront=with_edge,
        http_ingress=not ha,  # ha: the fleet admits its balancer only
    ),
)
# Kept while the stack is paused, so a resumed box gets the same token and origin secret.
secrets = StackSecrets(
    "onebox-secrets",
    SecretsArgs(
        api_token_parameter(stack),
        origin_secret_parameter(stack),
        api_token=settings.api_token,
        with_origin_secret=with_edge,
        sentry_dsn_parameter=sentry_dsn_parameter(stack),
        sentry_dsn=settings.sentry_dsn,
        tags=tags(stack, "secrets"),
    ),
)
bucket = BackupBucket(
    "onebox-backups", BackupBucketArgs(settings.backup_retention_days, tags(stack, "backups"))
)
logs = Logs("onebox-logs", LogsArgs(stack, settings.log_retention_days, tags(stack, "logs")))
release = ServiceRelease(
    "onebox-release",
    ReleaseArgs(
        sources.build_release(),
        bucket.bucket_name,
        release_parameter(stack),
        tags(stack, "release"),
    ),
)


def box_settings(bucket_name: str, database_host: str | None = None) -> str:
    """The env file's text: service settings, which reach the box with no replacement."""
    box = userdata.box_environment(settings, stack, bucket_name)
    return userdata.settings(dataclasses.replace(box, database_host=database_host))


def user_data(bucket_name: str) -> str:
    """The bootstrap cloud-config: stack facts only, so a setting never replaces the box."""
    facts = userdata.box_facts(settings, stack, bucket_name, sources.base_digest())
    return userdata.render(dataclasses.replace(facts, ha=ha))


database = None
if ha:
    subnets = default_subnets(network.vpc_id)
    database = Database(
        "onebox-db",
        DatabaseArgs(stack, network.vpc_id, subnets, network.security_group_id,
                     database_secret_parameter(stack), settings.db_instance_class,
                     settings.db_storage_gb, tags(stack, "database")),
    )  # fmt: skip
text = (
    pulumi.Output.all(bucket.bucket_name, database.address).apply(lambda v: box_settings(*v))
    if database
    else bucket.bucket_name.apply(box_settings)
)
box_config = BoxSettings(
    "onebox-settings", SettingsArgs(text, settings_parameter(stack), tags(stack, "settings"))
)


server = None
# running=false: no instance, no address; bucket, topic, budget remain. ha: the fleet instead.
if settings.running and not ha:
    server = Server(
        "onebox",
        ServerArgs(
            instance_type=settings.instance_type,
            ami_id=settings.ami_id,
            security_group_id=network.security_group_id,
            user_data=bucket.bucket_name.apply(user_data),
            bucket_arn=bucket.bucket_arn,
            release_parameter_arn=release.parameter_arn,
            metrics_namespace=namespace,
            restore_bucket=settings.restore_from_bucket,
            log_group_arn=logs.group_arn,
            # release, settings: what the bootstrap reads; network: the final backup's egress
            # secrets: the parameters the box reads at start
            boot_after=[release, box_config, network, logs, secrets],
            tags=tags(stack, "server"),
        ),
    )

balancer = fleet = None
if database:
    balancer = Balancer(
        "onebox-lb",
        BalancerArgs(network.vpc_id, subnets, settings.http_port, network.security_group_id,
                     with_edge, settings.allowed_cidrs, tags(stack, "balancer")),
    )  # fmt: skip
    fleet = Fleet(
        "onebox-fleet",
        FleetArgs(
            instance_type=settings.instance_type,
            ami_id=settings.ami_id,
            security_group_id=network.security_group_id,
            balancer_security_group_id=balancer.security_group_id,
            http_port=settings.http_port,
            user_data=bucket.bucket_name.apply(user_data),
            subnet_ids=subnets,
            target_group_arn=balancer.target_group_arn,
            request_count_label=pulumi.Output.concat(
                balancer.arn_suffix, "/", balancer.target_group_arn_suffix
            ),
            max_size=settings.asg_max,
            bucket_arn=bucket.bucket_arn,
            release_parameter_arn=release.parameter_arn,
            metrics_namespace=namespace,
            database_secret_arn=database.secret_arn,
            log_group_arn=logs.group_arn,
            boot_after=[release, box_config, network, logs, secrets, database],
            tags=tags(stack, "fleet"),
        ),
    )
origin = server.public_dns if server else balancer.dns_name if balancer else None
edge = None
if origin is not None and secrets.origin_secret is not None:  # paused: no origin, no edge
    edge = Edge(
        "onebox-edge",
        EdgeArgs(
            origin_domain=origin,
            http_port=settings.http_port,
            origin_secret=secrets.origin_secret,
            domain=settings.domain,
            hosted_zone_id=settings.hosted_zone_id,
            tags=tags(stack, "edge"),
        ),
    )
port = "" if settings.http_port == 80 else f":{settings.http_port}"
base: pulumi.Output[str] | None = None
if edge:
    base = edge.domain_name.apply(lambda host: f"https://{host}")
elif server:  # edge none: plain HTTP straight to the box
    base = server.public_ip.apply(lambda ip: f"http://{ip}{port}")
elif balancer:  # ha, edge none: plain HTTP to the balancer
    base = balancer.dns_name.apply(lambda host: f"http://{host}{port}")
# The outside check probes what users reach: the edge's name over HTTPS, else the box itself.
uptime_target: tuple[pulumi.Input[str], bool, int] | None = None
if edge:
    uptime_target = (edge.domain_name, True, 443)
elif server:
    uptime_target = (server.public_ip, False, settings.http_port)
monitoring = Monitoring(
    f"onebox-{stack}",
    MonitoringArgs(
        namespace=namespace,
        region=settings.region,
        instance_id=server.instance_id if server else None,
        alert_email=settings.alert_email,
        monthly_budget_usd=settings.monthly_budget_usd,
        slo_availability_pct=settings.slo_availability_pct,
        tags=tags(stack, "monitoring"),
        uptime_target=uptime_target,
        ha=HaWatch(stack, fleet.group_name, balancer.arn_suffix,
                   balancer.target_group_arn_suffix, database.identifier)
        if fleet and balancer and database
        else None,
    ),
)  # fmt: skip
if server or fleet:  # the metric filter counts what the box logs: no box, nothing to hear
    ErrorsAlarm(
        f"onebox-{stack}-logs",
        ErrorsAlarmArgs(stack, monitoring.topic_arn, tags(stack, "monitoring")),
    )

usage = costs.Usage(
    instance_type=settings.instance_type,
    running=settings.running,
    root_volume_gb=ROOT_VOLUME_GB,
    alarm_metrics=alarm_metric_count(all_alarms(namespace, settings.slo_availability_pct))
    if server
    else 0,
    uptime_https=with_edge,
    log_retention_days=settings.log_retention_days,
    edge=with_edge,
    domain=settings.domain is not None,
)
breakdown = costs.breakdown(usage, settings.free_tier)
if fleet:  # ha: min-size boxes, the balancer, RDS; its own alarms (+ uptime's and errors')
    ha_specs = [*ha_alarms(namespace, settings.slo_availability_pct), errors_alarm(namespace)]
    if uptime_target is not None:
        ha_specs.append(uptime_alarm())
    ha_usage = ha_costs.HaUsage(
        boxes=HA_MIN_SIZE,
        db_instance_class=settings.db_instance_class,
        db_storage_gb=settings.db_storage_gb,
        alarm_metrics=alarm_metric_count(ha_specs),
    )
    breakdown = ha_costs.breakdown(usage, ha_usage, settings.free_tier)
console = (
    f"https://{settings.region}.console.aws.amazon.com/cloudwatch/home?region={settings.region}"
)

pulumi.export("url", base)
pulumi.export("health_url", base.apply(lambda url: f"{url}/api/health") if base else None)
pulumi.export("metrics_url", base.apply(lambda url: f"{url}/api/metrics") if base else None)
pulumi.export("public_ip", server.public_ip if server else None)
pulumi.export("distribution_id", edge.distribution_id if edge else None)
# Only ever a secret: `pulumi stack output --show-secrets api_token` shows it.
pulumi.export("api_token", secrets.api_token)
pulumi.export("instance_id", server.instance_id if server else None)
pulumi.export("backup_bucket", bucket.bucket_name)
pulumi.export("log_group", logs.group_name)
pulumi.export("release_version", release.version)
pulumi.export("alarm_topic_arn", monitoring.topic_arn)
pulumi.export("alerts", settings.alerts)  # who hears the alarms; says so when no one does
pulumi.export(
    "dashboard_url",
    monitoring.dashboard_name.apply(lambda name: f"{console}#dashboards:name={name}"),
)
pulumi.export(
    "ssm_session_command",
    server.instance_id.apply(
        lambda instance: f"aws ssm start-session --target {instance} --region {settings.region}"
    )
    if server
    else None,
)
pulumi.export("monthly_cost_usd", costs.total(breakdown))
pulumi.export("cost_breakdown", breakdown)
if fleet and balancer and database:  # ha only: the single box's outputs stay as they were
    pulumi.export("load_balancer_dns", balancer.dns_name)
    pulumi.export("asg_name", fleet.group_name)
    pulumi.export("database_address", database.address)
    pulumi.export("database_secret_arn", database.secret_arn)
