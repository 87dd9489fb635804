"""The ha topology's alarms as plain data (pure: no pulumi import): service.contract's HA_ALARMS
on the balancer's and the database's AWS metrics, and the single box's alarms (infra/alarm_specs.py)
that still apply, read across the boxes instead of by one instance. Each names the dimensions it
is read by (`AlarmSpec.dimension_keys`); infra/monitoring.py's HaWatch gives their values."""

from __future__ import annotations

import dataclasses

from infra.alarm_spec import AlarmSpec
from infra.alarm_specs import instance_alarms, slo_burn_alarm
from service import contract

ALB, RDS = "AWS/ApplicationELB", "AWS/RDS"
# topology ha: the dimension names its alarms are read by (values: infra/monitoring.py's HaWatch).
STACK, GROUP = contract.STACK_DIMENSION, "AutoScalingGroupName"
BALANCER, TARGETS, DATABASE = "LoadBalancer", "TargetGroup", "DBInstanceIdentifier"
# The single box's alarms the fleet keeps, read across its boxes by the publisher's Stack
# dimension; not status-* (the group replaces a box its health checks fail) nor backup-age (RDS
# backs up).
HA_KEPT = ("heartbeat-missing", "error-rate", "latency-p95", "disk-used", "memory-used")
HA_BY_GROUP = ("cpu-high", "cpu-credits-low")  # AWS/EC2 aggregates these per group
# RDS PostgreSQL's max_connections is LEAST(DBInstanceClassMemory/9531392, 5000): on 1 GiB of
# db.t4g.micro, under 112 once the OS's share is taken; warn well before it.
DB_CONNECTIONS_MAX = 60
DB_FREE_STORAGE_BYTES = 2 * 1024**3  # 2 GiB left of the gp3 volume


def ha_alarms(
    namespace: str, objective_pct: float = contract.SLO_AVAILABILITY_PCT, p95_ms: float = 1000
) -> list[AlarmSpec]:
    """Every CloudWatch alarm of the ha topology but the uptime check's (infra/uptime.py's) and
    the logged errors' (infra/logs.py's): contract.HA_ALARMS, and the box's that still apply."""
    gt, lt = "GreaterThanThreshold", "LessThanThreshold"
    box = {spec.key: spec for spec in instance_alarms(namespace, p95_ms)}
    kept = [dataclasses.replace(box[key], dimension_keys=(STACK,)) for key in HA_KEPT]
    kept.append(
        dataclasses.replace(slo_burn_alarm(namespace, objective_pct), dimension_keys=(STACK,))
    )
    kept += [dataclasses.replace(box[key], dimension_keys=(GROUP,)) for key in HA_BY_GROUP]
    return [
        *kept,
        AlarmSpec("alb-5xx", "The load balancer itself answered 5xx (no healthy box, or none "
                  "answered) 5 times in 5 minutes", ALB, "HTTPCode_ELB_5XX_Count", "Sum", gt, 5,
                  300, 1, treat_missing_data="notBreaching", dimension_keys=(BALANCER,)),
        AlarmSpec("target-p95", f"The boxes' p95 response time, seen by the balancer, above "
                  f"{p95_ms / 1000:g} s (5 min)", ALB, "TargetResponseTime", "p95", gt,
                  p95_ms / 1000, 300, 1, treat_missing_data="notBreaching",
                  dimension_keys=(BALANCER, TARGETS)),
        AlarmSpec("unhealthy-hosts", "A box failed the balancer's readiness check for 3 minutes",
                  ALB, "UnHealthyHostCount", "Maximum", "GreaterThanOrEqualToThreshold", 1, 60,
                  3, dimension_keys=(BALANCER, TARGETS)),
        AlarmSpec("db-cpu", "Database CPU above 80 % for 15 minutes", RDS, "CPUUtilization",
                  "Average", gt, 80, 300, 3, dimension_keys=(DATABASE,)),
        AlarmSpec("db-free-storage", f"Database storage below "
                  f"{DB_FREE_STORAGE_BYTES // 1024**3} GiB free: writes fail when it is full",
                  RDS, "FreeStorageSpace", "Minimum", lt, DB_FREE_STORAGE_BYTES, 300, 1,
                  dimension_keys=(DATABASE,)),
        AlarmSpec("db-connections", f"More than {DB_CONNECTIONS_MAX} database connections "
                  "(the boxes' pools; near db.t4g.micro's limit)", RDS, "DatabaseConnections",
                  "Maximum", gt, DB_CONNECTIONS_MAX, 300, 1, dimension_keys=(DATABASE,)),
    ]  # fmt: skip
