"""Monthly cost of the stack from a dated us-east-1 list-price table (pure: no pulumi import).

Prices: AWS public list prices for us-east-1 (N. Virginia), on-demand, Linux, in USD, from
  https://aws.amazon.com/ec2/pricing/on-demand/      (instance hours)
  https://aws.amazon.com/ebs/pricing/                (gp3 GB-month)
  https://aws.amazon.com/vpc/pricing/                (public IPv4 address, since 2024-02-01)
  https://aws.amazon.com/s3/pricing/                 (Standard storage and requests)
  https://aws.amazon.com/cloudwatch/pricing/         (custom metrics, alarm metrics, dashboards,
                                                      Logs: Standard ingestion and storage)
  https://aws.amazon.com/free/                       (free-tier allowances)
  https://aws.amazon.com/cloudfront/pricing/         (data out, HTTPS requests, always-free)
  https://aws.amazon.com/kms/pricing/                (requests; the aws/ssm key itself is free)
  https://aws.amazon.com/route53/pricing/            (alias queries to CloudFront are free;
                                                      health checks and their optional features)
Table dated PRICES_AS_OF. It was transcribed offline (this project has no network), not fetched:
re-check the pages above before relying on a figure. AWS Budgets without actions, SSM standard
parameters, SNS e-mail (first 1,000 a month) and the first 100 GB a month of data out cost nothing.

freeTier "none" (the default): the list price, with only the always-free allowances
(CloudWatch: 10 metrics, 10 alarm metrics, 3 dashboards, 5 GB of Logs data a month). It is
right for every account today: accounts created since 2025-07-15 get the Free plan's credits
instead of allowances (100 USD at sign-up and up to 100 more, for at most 6 months; t2.micro is
not among its instance types), and credits pay a bill, they do not lower it, so they are not
modelled here.
freeTier "legacy" is history, kept to explain old bills: the 12-month free tier of accounts
created before 2025-07-15, over for every account by 2026-07-15 (750 h of t2.micro, or t3.micro
where t2.micro is not offered, which is not us-east-1; 750 h of public IPv4, 30 GB of EBS, 5 GB
of S3 with 20,000 GETs and 2,000 PUT/LIST).
"""

from __future__ import annotations

from dataclasses import dataclass

PRICES_AS_OF = "2026-11-23"
HOURS_PER_MONTH = 730
INSTANCE_HOURLY = {
    "t2.nano": 0.0058, "t2.micro": 0.0116, "t2.small": 0.023, "t2.medium": 0.0464,
    "t2.large": 0.0928, "t3.nano": 0.0052, "t3.micro": 0.0104, "t3.small": 0.0208,
    "t3.medium": 0.0416, "t3.large": 0.0832, "t3a.nano": 0.0047, "t3a.micro": 0.0094,
    "t3a.small": 0.0188, "t3a.medium": 0.0376, "t3a.large": 0.0752,
}  # fmt: skip
GP3_GB_MONTH = 0.08
PUBLIC_IPV4_HOURLY = 0.005
S3_STANDARD_GB_MONTH = 0.023
S3_PUT_LIST_PER_1000 = 0.005
S3_GET_PER_1000 = 0.0004
CW_CUSTOM_METRIC_MONTH = 0.30
CW_ALARM_METRIC_MONTH = 0.10
CW_DASHBOARD_MONTH = 3.00
# CloudWatch Logs rows: transcribed 2026-12-06 from the same page, Standard log class.
CW_LOGS_INGEST_GB = 0.50  # data ingested
CW_LOGS_STORAGE_GB_MONTH = 0.03  # archived (stored) data
FREE = {
    "legacy": {"instance_hours": 750.0, "ipv4_hours": 750.0, "ebs_gb": 30.0, "s3_gb": 5.0,
               "s3_put_list": 2000.0, "s3_get": 20000.0},
    "none": {"instance_hours": 0.0, "ipv4_hours": 0.0, "ebs_gb": 0.0, "s3_gb": 0.0,
             "s3_put_list": 0.0, "s3_get": 0.0},
}  # fmt: skip
# logs_gb: ingestion, storage and Logs Insights data scanned together, every month.
ALWAYS_FREE = {"custom_metrics": 10, "alarm_metrics": 10, "dashboards": 3, "logs_gb": 5.0}
# CloudFront rows: transcribed 2026-12-06, PriceClass_100 (North America and Europe), the first
# 10 TB tier. Its always-free allowance is for every account, every month, not 12 months.
CLOUDFRONT_OUT_GB = 0.085  # data transfer out to the internet
CLOUDFRONT_HTTPS_PER_10K = 0.01  # HTTPS requests
CLOUDFRONT_FREE = {"out_gb": 1024.0, "requests": 10_000_000, "function_invocations": 2_000_000}
# KMS: the box decrypts its two SecureStrings every minute (20,000 requests a month are free).
KMS_PER_10K = 0.03
KMS_FREE_REQUESTS = 20_000
# Route 53: records in the user's own hosted zone cost nothing, alias queries to CloudFront
# are free, the ACM certificate is free. The zone is the user's (0.50 a month, not this stack's).
ROUTE53_RECORDS_MONTH = 0.0
# Route 53 health checks: transcribed, re-check (not fetched, like the rest of this table).
# A basic check of an AWS endpoint in the same account (the box's Elastic IP) is free for the
# first 50, then 0.50; the CloudFront name is priced as a non-AWS endpoint, the higher figure,
# until checked. HTTPS is an optional feature, billed per check on top (string matching, 10 s
# intervals and latency graphs would be more features; this stack uses none of them).
ROUTE53_HEALTH_CHECK_MONTH = {"aws": 0.50, "non_aws": 0.75}
ROUTE53_FREE_AWS_HEALTH_CHECKS = 50
ROUTE53_OPTIONAL_FEATURE_MONTH = {"aws": 1.00, "non_aws": 2.00}
# t3.micro is free only in regions without t2.micro; this table is us-east-1, which has it.
FREE_TIER_INSTANCE_TYPES = ("t2.micro",)


@dataclass(frozen=True)
class Usage:
    """What the stack uses in a month; the defaults are this stack's assumptions."""

    instance_type: str = "t2.micro"
    running: bool = True
    root_volume_gb: int = 8
    backup_storage_gb: float = 0.1  # 7+ gzipped SQLite snapshots and a few release archives
    backup_runs: int = 8640  # every 5 minutes; an upper bound (unchanged data is skipped)
    custom_metrics: int = 8
    # 9 single-metric alarms, error-rate's 2, slo-burn's 8 (2 metrics x 4 windows), uptime's 1.
    alarm_metrics: int = 21
    dashboards: int = 1
    # Shipped journald lines: ~20,000 requests a day x ~1.3 KB per event (the JSON line inside
    # the journal entry's fields, as the CloudWatch agent sends it) = ~0.8 GB a month.
    log_ingest_gb: float = 0.8
    log_retention_days: int = 14  # logRetentionDays: stored = a month's lines x days / 30
    edge: bool = True  # a CloudFront distribution in front (edge: cloudfront, running)
    domain: bool = False  # a custom domain: records in the user's Route 53 zone
    uptime_https: bool = True  # the outside check: HTTPS to the edge, else HTTP to the box
    # The requests above through CloudFront, ~2 KB out each (JSON answers and headers).
    edge_requests: int = 600_000
    edge_out_gb: float = 1.2
    # Two SecureStrings decrypted every minute by the box: 2 x 60 x 730.
    secret_reads: int = 87_600


def _billable(used: float, free: float) -> float:
    return max(0.0, used - free)


def _compute(usage: Usage, free: dict[str, float]) -> dict[str, float]:
    if not usage.running:
        return {"ec2_instance": 0.0, "ebs_root_volume": 0.0, "public_ipv4": 0.0}
    if usage.instance_type not in INSTANCE_HOURLY:
        raise ValueError(f"instanceType: {usage.instance_type!r} has no price in the table")
    free_hours = free["instance_hours"] if usage.instance_type in FREE_TIER_INSTANCE_TYPES else 0
    hours = _billable(HOURS_PER_MONTH, free_hours)
    return {
        "ec2_instance": hours * INSTANCE_HOURLY[usage.instance_type],
        "ebs_root_volume": _billable(usage.root_volume_gb, free["ebs_gb"]) * GP3_GB_MONTH,
        "public_ipv4": _billable(HOURS_PER_MONTH, free["ipv4_hours"]) * PUBLIC_IPV4_HOURLY,
    }


def _storage(usage: Usage, free: dict[str, float]) -> dict[str, float]:
    runs = usage.backup_runs if usage.running else 0
    # Each backup run: one LIST (newest backup, retention), one PUT, one GET (read-back check).
    put_list = _billable(2 * runs, free["s3_put_list"]) / 1000 * S3_PUT_LIST_PER_1000
    get = _billable(runs, free["s3_get"]) / 1000 * S3_GET_PER_1000
    return {
        "s3_storage": _billable(usage.backup_storage_gb, free["s3_gb"]) * S3_STANDARD_GB_MONTH,
        "s3_requests": put_list + get,
    }


def _monitoring(usage: Usage) -> dict[str, float]:
    metrics = _billable(usage.custom_metrics, ALWAYS_FREE["custom_metrics"])
    alarms = _billable(usage.alarm_metrics, ALWAYS_FREE["alarm_metrics"])
    dashboards = _billable(usage.dashboards, ALWAYS_FREE["dashboards"])
    return {
        "cloudwatch_metrics": metrics * CW_CUSTOM_METRIC_MONTH,
        "cloudwatch_alarms": alarms * CW_ALARM_METRIC_MONTH,
        "cloudwatch_dashboards": dashboards * CW_DASHBOARD_MONTH,
    }


def _logs(usage: Usage) -> dict[str, float]:
    ingested = usage.log_ingest_gb if usage.running else 0.0
    # Uncompressed, so an upper bound: CloudWatch bills storage on the compressed size.
    stored = usage.log_ingest_gb * min(usage.log_retention_days, 3653) / 30
    free = ALWAYS_FREE["logs_gb"]
    billable_ingest = _billable(ingested, free)
    billable_storage = _billable(stored, max(0.0, free - ingested))
    return {
        "cloudwatch_logs": billable_ingest * CW_LOGS_INGEST_GB
        + billable_storage * CW_LOGS_STORAGE_GB_MONTH
    }


def _edge(usage: Usage) -> dict[str, float]:
    """CloudFront (inside its always-free allowance at this stack's traffic), the secrets'
    KMS requests, and Route 53 rows only when a custom domain is set."""
    items: dict[str, float] = {}
    if usage.edge and usage.running:
        out = _billable(usage.edge_out_gb, CLOUDFRONT_FREE["out_gb"]) * CLOUDFRONT_OUT_GB
        requests = _billable(usage.edge_requests, CLOUDFRONT_FREE["requests"])
        items["cloudfront"] = out + requests / 10_000 * CLOUDFRONT_HTTPS_PER_10K
    if usage.running:
        reads = _billable(usage.secret_reads, KMS_FREE_REQUESTS)
        items["kms_requests"] = reads / 10_000 * KMS_PER_10K
    if usage.domain and usage.edge:
        items["route53_records"] = ROUTE53_RECORDS_MONTH
    if usage.running:
        items["route53_health_check"] = health_check_month(usage.uptime_https)
    return items


def health_check_month(https: bool) -> float:
    """The outside uptime check: HTTPS to the edge's name (non-AWS price, HTTPS feature), or
    plain HTTP to the box's Elastic IP (an AWS endpoint, no feature, inside the free 50)."""
    if https:
        return ROUTE53_HEALTH_CHECK_MONTH["non_aws"] + ROUTE53_OPTIONAL_FEATURE_MONTH["non_aws"]
    return _billable(1, ROUTE53_FREE_AWS_HEALTH_CHECKS) * ROUTE53_HEALTH_CHECK_MONTH["aws"]


def breakdown(usage: Usage, free_tier: str) -> dict[str, float]:
    """USD per month for each item, after the allowances of `free_tier`, rounded to cents/100."""
    if free_tier not in FREE:
        raise ValueError(f"freeTier: {free_tier!r} is not one of {', '.join(FREE)}")
    free = FREE[free_tier]
    items = {
        **_compute(usage, free),
        **_storage(usage, free),
        **_monitoring(usage),
        **_logs(usage),
        **_edge(usage),
    }
    return {name: round(value, 4) for name, value in items.items()}


def total(items: dict[str, float]) -> float:
    """The monthly total in USD, rounded to cents."""
    return round(sum(items.values()), 2)
