"""Monthly cost of the ha topology (pure: no pulumi import): infra/costs.py's items for what the
fleet shares with the one box, times its boxes where each box pays, plus the load balancer,
RDS and the database's secret.

Prices: us-east-1 list prices, on-demand, USD, from
  https://aws.amazon.com/elasticloadbalancing/pricing/   (ALB hours and LCU hours)
  https://aws.amazon.com/rds/postgresql/pricing/          (instance hours, gp3 GB-month, backup
                                                           storage beyond the free 100 %)
  https://aws.amazon.com/secrets-manager/pricing/         (a secret a month, API calls)
Dated HA_PRICES_AS_OF. Transcribed offline, not fetched (this project has no network):
transcribed, re-check every figure here before relying on it, like infra/costs.py's table.
RDS: PostgreSQL, Single-AZ; Multi-AZ doubles the instance and the storage rows.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from infra import costs

HA_PRICES_AS_OF = "2026-12-06"
ALB_HOURLY = 0.0225  # per ALB-hour
ALB_LCU_HOURLY = 0.008  # per LCU-hour
# One LCU: 25 new connections a second, 3,000 active connections a minute, 1 GB processed an
# hour, or 1,000 rule evaluations a second; an hour is billed on the largest of the four.
LCU_NEW_CONNECTIONS_PER_SECOND = 25.0
LCU_GB_PER_HOUR = 1.0
RDS_HOURLY = {
    "db.t4g.micro": 0.016, "db.t4g.small": 0.032, "db.t4g.medium": 0.065,
    "db.t4g.large": 0.129, "db.t3.micro": 0.018, "db.t3.small": 0.036,
    "db.t3.medium": 0.072, "db.t3.large": 0.145,
}  # fmt: skip
RDS_GP3_GB_MONTH = 0.115
RDS_BACKUP_GB_MONTH = 0.095  # beyond the free allowance: 100 % of the provisioned storage
SECRET_MONTH = 0.40  # the RDS-managed secret is a Secrets Manager secret like any other
SECRETS_API_PER_10K = 0.05
# The legacy free tier's 12 months also covered 750 ALB hours and 15 LCUs, and 750 hours of
# db.t4g.micro (or db.t3.micro) Single-AZ with 20 GB of storage and 20 GB of backups.
HA_FREE = {
    "legacy": {"alb_hours": 750.0, "lcu_hours": 15.0 * 730, "db_hours": 750.0, "db_gb": 20.0},
    "none": {"alb_hours": 0.0, "lcu_hours": 0.0, "db_hours": 0.0, "db_gb": 0.0},
}
FREE_TIER_DB_CLASSES = ("db.t4g.micro", "db.t3.micro")
# What one box of the fleet adds to the shared rows: its custom metrics (the publisher sends
# them per instance; the per-stack set is shared) and its reads of the secrets each minute
# (the API token, the origin secret and the database secret's parameter: SSM; the database
# secret: Secrets Manager).
METRICS_PER_BOX = 7  # the contract's eight but BackupAgeSeconds (RDS backs up)
SSM_SECURE_READS_PER_BOX = 2 * 60 * costs.HOURS_PER_MONTH
SECRET_READS_PER_BOX = 60 * costs.HOURS_PER_MONTH
PER_BOX = ("ec2_instance", "ebs_root_volume", "public_ipv4")  # infra/costs.py's items each box pays


@dataclass(frozen=True)
class HaUsage:
    """What the ha topology uses in a month beyond `costs.Usage`; defaults: its assumptions."""

    boxes: int = 2  # the group's min size: what it runs without load
    db_instance_class: str = "db.t4g.micro"
    db_storage_gb: int = 20
    db_backup_gb: float = 1.0  # 7 days of snapshots and WAL of a small database: under 20 GB
    alarm_metrics: int = 22


def lcu(usage: costs.Usage) -> float:
    """The average LCUs of the stack's traffic: the largest dimension, each request a new
    connection at worst (CloudFront reuses them), every byte out processed."""
    seconds = costs.HOURS_PER_MONTH * 3600
    connections = usage.edge_requests / seconds / LCU_NEW_CONNECTIONS_PER_SECOND
    processed = usage.edge_out_gb / costs.HOURS_PER_MONTH / LCU_GB_PER_HOUR
    return max(connections, processed)


def breakdown(usage: costs.Usage, ha: HaUsage, free_tier: str) -> dict[str, float]:
    """USD per month for each item of the ha topology, after the allowances of `free_tier`."""
    if ha.db_instance_class not in RDS_HOURLY:
        raise ValueError(f"dbInstanceClass: {ha.db_instance_class!r} has no price in the table")
    shared = dataclasses.replace(
        usage,
        backup_runs=0,  # no SQLite backups: RDS backs up
        custom_metrics=METRICS_PER_BOX * (ha.boxes + 1),
        alarm_metrics=ha.alarm_metrics,
        secret_reads=(SSM_SECURE_READS_PER_BOX + SECRET_READS_PER_BOX) * ha.boxes,
    )
    items = costs.breakdown(shared, free_tier)
    listed = costs.breakdown(shared, "none")
    for key in PER_BOX:
        # Every box pays the list price; a free tier's allowance is the account's, counted for
        # one box: all of legacy's 750 instance and IPv4 hours, but of its 30 GB of EBS only
        # one box's 8 (an overstatement of 0.64 USD, kept for one rule).
        allowance = listed[key] - items.pop(key)
        items[f"{key}_x{ha.boxes}"] = listed[key] * ha.boxes - allowance
    items.update(_balancer(usage, free_tier))
    items.update(_database(ha, free_tier))
    calls = SECRET_READS_PER_BOX * ha.boxes
    items["secrets_manager"] = SECRET_MONTH + calls / 10_000 * SECRETS_API_PER_10K
    return {name: round(value, 4) for name, value in items.items()}


def _balancer(usage: costs.Usage, free_tier: str) -> dict[str, float]:
    free = HA_FREE[free_tier]
    hours = max(0.0, costs.HOURS_PER_MONTH - free["alb_hours"])
    lcu_hours = max(0.0, lcu(usage) * costs.HOURS_PER_MONTH - free["lcu_hours"])
    return {"alb_hours": hours * ALB_HOURLY, "alb_lcu": lcu_hours * ALB_LCU_HOURLY}


def _database(ha: HaUsage, free_tier: str) -> dict[str, float]:
    free = HA_FREE[free_tier]
    in_tier = ha.db_instance_class in FREE_TIER_DB_CLASSES
    hours = max(0.0, costs.HOURS_PER_MONTH - (free["db_hours"] if in_tier else 0.0))
    storage = max(0.0, ha.db_storage_gb - free["db_gb"])
    # Backup storage up to 100 % of the provisioned storage is free (and the free tier's 20 GB).
    backup = max(0.0, ha.db_backup_gb - max(ha.db_storage_gb, free["db_gb"]))
    return {
        "rds_instance": hours * RDS_HOURLY[ha.db_instance_class],
        "rds_storage_gp3": storage * RDS_GP3_GB_MONTH,
        "rds_backup_storage": backup * RDS_BACKUP_GB_MONTH,
    }
