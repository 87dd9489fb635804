"""The stack's configuration: the only module that reads `pulumi.Config()`.

`parse` turns raw values (strings, lists, bools as Pulumi hands them over) into a frozen,
validated `StackConfig`; every error names the key and the bad value. `load` is the thin edge
that reads the project's config namespace and calls `parse`. Defaults here mirror the `config:`
schema in Pulumi.yaml (a test keeps the two equal).
"""

from __future__ import annotations

import decimal
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from infra import config_rules
from service import contract

FREE_TIER_PLANS = ("legacy", "none")
HA_MIN_SIZE = 2  # an ALB needs two AZs; two instances keep serving while one is replaced
# cloudfront (the default): HTTPS through CloudFront, the HTTP port open to its origin-facing
# addresses only. none: no distribution, the HTTP port open to allowedCidrs over plain HTTP.
EDGES = ("cloudfront", "none")
NO_SUBSCRIBER = (
    "NO ONE: alertEmail is empty, so the alarms and the budget notify a topic nobody is "
    "subscribed to (set onebox:alertEmail)"
)
AL2023_AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
# t2/t3/t3a families: burstable, small, supported by our CPU-credit alarm and standard credits.
_INSTANCE_TYPE = re.compile(r"^t(2|3|3a)\.(nano|micro|small|medium|large)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_AMI = re.compile(r"^ami-[0-9a-f]{8,17}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_ZONE = re.compile(r"^Z[A-Z0-9]{4,31}$")
# A token the env file, an HTTP header and the secrets file carry without escaping.
_TOKEN = re.compile(r"^[A-Za-z0-9._~-]{32,128}$")
# A Sentry DSN: an http(s) URL of visible ASCII (what onebox-secrets accepts on the box).
_DSN = re.compile(r"^https?://[\x21-\x7e]+$")
# RDS instance classes this stack prices and that run PostgreSQL on Graviton or x86 burstables.
_DB_CLASS = re.compile(r"^db\.t(3|4g)\.(micro|small|medium|large)$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# The retention values CloudWatch Logs accepts (PutRetentionPolicy's retentionInDays).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                      1827, 2192, 2557, 2922, 3288, 3653)  # fmt: skip
# A systemd calendar spec (systemd.time(7)) for the start of the maintenance window, in the
# subset that fires at most once a day: weekdays, a date whose parts may be `*`, lists or
# ranges, and one fixed hour and minute. tests/infra/test_config.py checks it against
# `systemd-analyze calendar`.
_WEEKDAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_WEEKDAYS = rf"{_WEEKDAY}(?:\.\.{_WEEKDAY})?(?:,{_WEEKDAY}(?:\.\.{_WEEKDAY})?)*"
_PART = r"(?:\*|\d{1,4}(?:\.\.\d{1,4})?)(?:/\d{1,3})?"
_DATE = rf"{_PART}(?:,{_PART})*-{_PART}(?:,{_PART})*-{_PART}(?:,{_PART})*"
_TIME = r"(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d)?"
_WINDOW = re.compile(rf"^(?:{_WEEKDAYS} )?(?:{_DATE} )?{_TIME}$")


@dataclass(frozen=True)
class StackConfig:
    """Every setting of the stack, validated; components receive pieces of this, never Config."""

    instance_type: str = "t2.micro"
    http_port: int = 80
    allowed_cidrs: tuple[str, ...] = ("0.0.0.0/0", "::/0")
    ssh_cidr: str | None = None
    alert_email: str | None = None
    backup_keep: int = 7
    backup_retention_days: int = 7
    # Above the default stack's list cost (`make plan`), so the budget alarms only on a surprise.
    monthly_budget_usd: float = 25.0
    running: bool = True
    restore_from_bucket: str | None = None
    free_tier: str = "none"
    ami_id: str | None = None
    region: str = "us-east-1"
    # Start of the weekly window in which a security patch may reboot the box (UTC, the box's
    # clock); the window lasts an hour (service/deploy/patch/onebox-patch.sh).
    maintenance_window: str = "Sun *-*-* 03:00:00"
    log_retention_days: int = 14
    edge: str = "cloudfront"
    domain: str | None = None  # a custom domain for the distribution (needs hosted_zone_id)
    hosted_zone_id: str | None = None  # the user's Route 53 zone of `domain`
    # repr=False: a traceback or a log line that prints the config never shows the token.
    api_token: str | None = field(default=None, repr=False)  # None: the stack generates one
    sentry_dsn: str | None = field(default=None, repr=False)  # None: no error reporting
    writes_per_minute: int = 120  # per client, enforced on the box (APP_RATE_*)
    reads_per_minute: int = 600
    # node_exporter on the box's loopback and the backup's textfile metric (docs/monitoring.md).
    prometheus: bool = False
    # The availability objective (% of requests without a 5xx over contract.SLO_WINDOW_DAYS):
    # the burn-rate alarm, the dashboard's budget and the box's /api/metrics budget use it.
    slo_availability_pct: float = contract.SLO_AVAILABILITY_PCT
    # single: the one box. ha: an ALB, 2..asg_max boxes, RDS (docs/infrastructure.md).
    topology: str = "single"
    asg_max: int = 4  # ha only: the auto scaling group's max size (its min is HA_MIN_SIZE)
    db_instance_class: str = "db.t4g.micro"  # ha only: the RDS instance class
    db_storage_gb: int = 20  # ha only: the RDS gp3 volume (20 GB is gp3's minimum for RDS)

    @property
    def alerts(self) -> str:
        """Who hears the alarms and the budget: the e-mail, or a warning that no one does."""
        if self.alert_email:
            return f"{self.alert_email} (e-mail; confirm the subscription mail AWS sends)"
        return NO_SUBSCRIBER


DEFAULTS = StackConfig()


def _cidr(key: str, value: Any) -> str:
    try:
        return str(ipaddress.ip_network(str(value), strict=True))
    except ValueError:
        raise ValueError(f"{key}: {value!r} is not a CIDR (like 203.0.113.0/24)") from None


def _int(key: str, value: Any, low: int, high: int) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise ValueError(f"{key}: {value!r} is not a whole number") from None
    if not low <= number <= high:
        raise ValueError(f"{key}: {value!r} is outside {low}..{high}")
    return number


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise ValueError(f"{key}: {value!r} is not true or false")
    return text == "true"


def _matching(key: str, value: Any, pattern: re.Pattern[str], what: str) -> str:
    text = str(value)
    if not pattern.fullmatch(text):
        raise ValueError(f"{key}: {value!r} is not {what}")
    return text


def _cidr_list(key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple) or not value:
        raise ValueError(f"{key}: {value!r} is not a non-empty list of CIDRs")
    return tuple(_cidr(key, item) for item in value)


def _ssh_cidr(value: Any) -> str:
    cidr = _cidr("sshCidr", value)
    if ipaddress.ip_network(cidr).prefixlen == 0:
        raise ValueError(f"sshCidr: {value!r} opens SSH to the world; give an admin CIDR")
    return cidr


def _budget(value: Any) -> float:
    try:
        amount = float(str(value))
    except ValueError:
        raise ValueError(f"monthlyBudgetUsd: {value!r} is not a number") from None
    if not 1 <= amount <= 10_000:
        raise ValueError(f"monthlyBudgetUsd: {value!r} is outside 1..10000")
    return amount


def _objective(value: Any) -> float:
    """A percentage strictly between 0 and 100 with at most 3 decimals (99.5, 99.9, 99.95)."""
    try:
        number = decimal.Decimal(str(value).strip())
    except decimal.InvalidOperation:
        raise ValueError(f"sloAvailabilityPct: {value!r} is not a number") from None
    if not number.is_finite() or not 0 < number < 100:
        raise ValueError(f"sloAvailabilityPct: {value!r} is not strictly between 0 and 100")
    if number != number.quantize(decimal.Decimal("0.001")):
        raise ValueError(f"sloAvailabilityPct: {value!r} has more than 3 decimals")
    return float(number)


def _one_of(key: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{key}: {value!r} is not one of {', '.join(allowed)}")
    return str(value)


def _free_tier(value: Any) -> str:
    return _one_of("freeTier", value, FREE_TIER_PLANS)


def _secret(key: str, value: Any, pattern: re.Pattern[str], what: str) -> str:
    text = str(value)
    if not pattern.fullmatch(text):
        raise ValueError(f"{key}: the value ({len(text)} characters) is not {what}")
    return text


def _window(value: Any) -> str:
    text = " ".join(str(value).split())
    if not _WINDOW.fullmatch(text):
        raise ValueError(
            f"maintenanceWindow: {value!r} is not a systemd calendar spec that fires at most "
            "once a day (weekdays, a date, one hour and minute), like 'Sun *-*-* 03:00:00'"
        )
    return text


def _retention(value: Any) -> int:
    days = _int("logRetentionDays", value, 1, 3653)
    if days not in LOG_RETENTION_DAYS:
        allowed = ", ".join(str(day) for day in LOG_RETENTION_DAYS)
        raise ValueError(f"logRetentionDays: {value!r} is not one CloudWatch allows ({allowed})")
    return days


_PARSERS: dict[str, tuple[str, Any]] = {
    "instanceType": (
        "instance_type",
        lambda v: _matching("instanceType", v, _INSTANCE_TYPE, "a t2/t3/t3a instance type"),
    ),
    "httpPort": ("http_port", lambda v: _int("httpPort", v, 1, 65535)),
    "allowedCidrs": ("allowed_cidrs", lambda v: _cidr_list("allowedCidrs", v)),
    "sshCidr": ("ssh_cidr", _ssh_cidr),
    "alertEmail": ("alert_email", lambda v: _matching("alertEmail", v, _EMAIL, "an email address")),
    "backupKeep": ("backup_keep", lambda v: _int("backupKeep", v, 1, 1000)),
    "backupRetentionDays": (
        "backup_retention_days",
        lambda v: _int("backupRetentionDays", v, 1, 3650),
    ),
    "monthlyBudgetUsd": ("monthly_budget_usd", _budget),
    "running": ("running", lambda v: _bool("running", v)),
    "restoreFromBucket": (
        "restore_from_bucket",
        lambda v: _matching("restoreFromBucket", v, _BUCKET, "an S3 bucket name"),
    ),
    "freeTier": ("free_tier", _free_tier),
    "amiId": ("ami_id", lambda v: _matching("amiId", v, _AMI, "an AMI id (ami-...)")),
    "maintenanceWindow": ("maintenance_window", _window),
    "logRetentionDays": ("log_retention_days", _retention),
    # The provider's own key (aws:region), read here so components get it as a plain value.
    "edge": ("edge", lambda v: _one_of("edge", v, EDGES)),
    "domain": ("domain", lambda v: _matching("domain", v, _DOMAIN, "a lower-case domain name")),
    "hostedZoneId": (
        "hosted_zone_id",
        lambda v: _matching("hostedZoneId", v, _ZONE, "a Route 53 hosted zone id (Z...)"),
    ),
    "apiToken": (
        "api_token",
        # The message never repeats the value: it is a secret.
        lambda v: _secret("apiToken", v, _TOKEN, "32-128 of A-Z a-z 0-9 . _ ~ -"),
    ),
    "sentryDsn": (
        "sentry_dsn",
        lambda v: _secret("sentryDsn", v, _DSN, "an http(s) URL without spaces"),
    ),
    "writesPerMinute": ("writes_per_minute", lambda v: _int("writesPerMinute", v, 1, 100_000)),
    "readsPerMinute": ("reads_per_minute", lambda v: _int("readsPerMinute", v, 1, 100_000)),
    "prometheus": ("prometheus", lambda v: _bool("prometheus", v)),
    "sloAvailabilityPct": ("slo_availability_pct", _objective),
    "topology": ("topology", lambda v: _one_of("topology", v, contract.TOPOLOGIES)),
    "asgMax": ("asg_max", lambda v: _int("asgMax", v, HA_MIN_SIZE, 20)),
    "dbInstanceClass": (
        "db_instance_class",
        lambda v: _matching(
            "dbInstanceClass", v, _DB_CLASS, "a db.t3/db.t4g class, micro to large"
        ),
    ),
    # gp3 on RDS: 20 GiB at least; 1000 is far above what this stack's service needs.
    "dbStorageGb": ("db_storage_gb", lambda v: _int("dbStorageGb", v, 20, 1000)),
    "aws:region": ("region", lambda v: _matching("aws:region", v, _REGION, "an AWS region")),
}

KEYS = tuple(_PARSERS)


def parse(raw: Mapping[str, Any]) -> StackConfig:
    """A validated StackConfig from raw config values; unset (None or '') keys take defaults."""
    unknown = sorted(set(raw) - set(_PARSERS))
    if unknown:
        raise ValueError(f"unknown config key(s): {', '.join(unknown)}; known: {', '.join(KEYS)}")
    values: dict[str, Any] = {}
    for key, (name, parser) in _PARSERS.items():
        value = raw.get(key)
        if value is not None and value != "":
            values[name] = parser(value)
    return config_rules.check(StackConfig(**values))


def load() -> StackConfig:
    """Read the project's config namespace (the Pulumi edge) and validate it."""
    import pulumi  # imported here so the pure half of this module stays importable anywhere

    config, provider = pulumi.Config(), pulumi.Config("aws")
    raw: dict[str, Any] = {"aws:region": provider.get("region")}
    for key in KEYS:
        if key == "allowedCidrs":
            raw[key] = config.get_object(key)
        elif ":" not in key:
            raw[key] = config.get(key)
    return parse(raw)
