"""Config validation: defaults, the bad-input table, and agreement with Pulumi.yaml."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import yaml

from infra import config
from infra.mocks import stack_values
from service import config as service_config
from service import contract
from tests.support import ROOT, require_tool

FIELD_OF = {key: field for key, (field, _) in config._PARSERS.items()}


def test_empty_config_gives_the_documented_defaults() -> None:
    assert config.parse({}) == config.StackConfig()
    assert config.DEFAULTS.ssh_cidr is None
    assert config.DEFAULTS.running is True


def test_the_default_cost_is_the_list_price_and_the_default_alerts_say_no_one_hears_them() -> None:
    assert config.DEFAULTS.free_tier == "none"  # the legacy 12-month free tier has ended
    assert config.DEFAULTS.alerts == config.NO_SUBSCRIBER
    assert "alertEmail is empty" in config.DEFAULTS.alerts
    assert config.parse({"alertEmail": "ops@example.com"}).alerts.startswith("ops@example.com")


def test_pulumi_yaml_schema_defaults_match_the_dataclass() -> None:
    schema = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert set(schema) == {key for key in config.KEYS if ":" not in key}
    for key, spec in schema.items():
        assert spec["description"], key
        parsed = config.parse({key: spec["default"]})
        assert getattr(parsed, FIELD_OF[key]) == getattr(config.DEFAULTS, FIELD_OF[key]), key


def test_the_dev_stack_file_is_valid() -> None:
    settings = config.parse(stack_values("dev"))
    assert settings.region == "us-east-1"
    assert settings.instance_type == "t2.micro"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("instanceType", "m5.24xlarge", "instanceType: 'm5.24xlarge' is not a t2/t3/t3a"),
        ("httpPort", "0", "httpPort: '0' is outside 1..65535"),
        ("httpPort", "http", "httpPort: 'http' is not a whole number"),
        ("httpPort", 70000, "httpPort: 70000 is outside 1..65535"),
        ("allowedCidrs", "0.0.0.0/0", "allowedCidrs: '0.0.0.0/0' is not a non-empty list"),
        ("allowedCidrs", [], r"allowedCidrs: \[\] is not a non-empty list"),
        ("allowedCidrs", ["10.0.0.0/33"], "allowedCidrs: '10.0.0.0/33' is not a CIDR"),
        ("allowedCidrs", ["10.0.0.1/8"], "allowedCidrs: '10.0.0.1/8' is not a CIDR"),
        ("sshCidr", "0.0.0.0/0", "sshCidr: '0.0.0.0/0' opens SSH to the world"),
        ("sshCidr", "::/0", "sshCidr: '::/0' opens SSH to the world"),
        ("sshCidr", "my-laptop", "sshCidr: 'my-laptop' is not a CIDR"),
        ("alertEmail", "ops-at-example", "alertEmail: 'ops-at-example' is not an email"),
        ("backupKeep", "0", "backupKeep: '0' is outside 1..1000"),
        ("backupRetentionDays", "-1", r"backupRetentionDays: '-1' is outside 1..3650"),
        ("monthlyBudgetUsd", "cheap", "monthlyBudgetUsd: 'cheap' is not a number"),
        ("monthlyBudgetUsd", "0.5", r"monthlyBudgetUsd: '0.5' is outside 1..10000"),
        ("running", "yes", "running: 'yes' is not true or false"),
        ("restoreFromBucket", "Bad_Bucket", "restoreFromBucket: 'Bad_Bucket' is not an S3"),
        ("freeTier", "always", "freeTier: 'always' is not one of legacy, none"),
        ("amiId", "ubuntu", "amiId: 'ubuntu' is not an AMI id"),
        ("aws:region", "mars-1", "aws:region: 'mars-1' is not an AWS region"),
        ("maintenanceWindow", "sometime", "maintenanceWindow: 'sometime' is not a systemd"),
        ("maintenanceWindow", "*-*-* *:00:00", r"maintenanceWindow: '\*-\*-\* \*:00:00' is not"),
        ("maintenanceWindow", "Sun 25:00", "maintenanceWindow: 'Sun 25:00' is not"),
        ("logRetentionDays", "13", "logRetentionDays: '13' is not one CloudWatch allows"),
        ("logRetentionDays", "0", "logRetentionDays: '0' is outside 1..3653"),
        ("logRetentionDays", "forever", "logRetentionDays: 'forever' is not a whole number"),
        ("sloAvailabilityPct", "high", "sloAvailabilityPct: 'high' is not a number"),
        ("sloAvailabilityPct", "100", "sloAvailabilityPct: '100' is not strictly between 0 and"),
        ("sloAvailabilityPct", 0, "sloAvailabilityPct: 0 is not strictly between 0 and 100"),
        ("sloAvailabilityPct", "nan", "sloAvailabilityPct: 'nan' is not strictly between"),
        ("sloAvailabilityPct", "99.9995", "sloAvailabilityPct: '99.9995' has more than 3 decimals"),
        ("instancetype", "t2.micro", "unknown config key.*instancetype"),
    ],
)
def test_bad_values_are_refused_naming_the_key_and_the_value(
    key: str, value: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        config.parse({key: value})


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("running", "false", False),
        ("running", True, True),
        ("httpPort", "8080", 8080),
        ("allowedCidrs", ["203.0.113.0/24", "2001:db8::/32"], ("203.0.113.0/24", "2001:db8::/32")),
        ("sshCidr", "198.51.100.7/32", "198.51.100.7/32"),
        ("amiId", "ami-0123456789abcdef0", "ami-0123456789abcdef0"),
        ("sshCidr", "", None),
        ("maintenanceWindow", "Sat  *-*-* 04:30", "Sat *-*-* 04:30"),
        ("logRetentionDays", "30", 30),
        ("sloAvailabilityPct", 99.9, 99.9),
        ("sloAvailabilityPct", "99.95", 99.95),
        ("sloAvailabilityPct", "99.999", 99.999),
    ],
)
def test_good_values_are_typed(key: str, value: Any, expected: Any) -> None:
    assert getattr(config.parse({key: value}), FIELD_OF[key]) == expected


def test_the_default_objective_is_the_contracts() -> None:
    assert config.DEFAULTS.slo_availability_pct == contract.SLO_AVAILABILITY_PCT


def test_config_is_frozen() -> None:
    settings = config.parse({})
    with pytest.raises(AttributeError):
        settings.http_port = 81  # type: ignore[misc]


# Windows the parser accepts and refuses; systemd itself must agree on each (below).
GOOD_WINDOWS = (
    "Sun *-*-* 03:00:00",
    "Mon..Fri 02:30",
    "*-*-* 04:00",
    "Sat,Sun *-*-01..07 03:00:00",
    "Wed 2027-*-* 23:59:59",
)
BAD_WINDOWS = ("Sun 25:00", "Funday 03:00", "Sun *-*-* 03:00:00 03:00", "03")


def test_the_default_window_is_weekly_and_the_default_retention_is_14_days() -> None:
    assert config.DEFAULTS.maintenance_window == "Sun *-*-* 03:00:00"
    assert config.DEFAULTS.log_retention_days == 14
    assert config.DEFAULTS.log_retention_days in config.LOG_RETENTION_DAYS


@pytest.mark.parametrize("window", GOOD_WINDOWS)
def test_every_window_the_parser_accepts_systemd_accepts(window: str) -> None:
    assert config.parse({"maintenanceWindow": window}).maintenance_window == window
    result = _calendar(window)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("window", BAD_WINDOWS)
def test_windows_systemd_refuses_are_refused_by_name(window: str) -> None:
    assert _calendar(window).returncode != 0
    with pytest.raises(ValueError, match="maintenanceWindow: "):
        config.parse({"maintenanceWindow": window})


def _calendar(spec: str) -> subprocess.CompletedProcess[str]:
    tool = require_tool("systemd-analyze")
    command = [tool, "calendar", spec]
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


def test_the_box_default_window_is_the_stacks() -> None:
    (setting,) = [s for s in service_config.SETTINGS if s.env == "APP_MAINTENANCE_WINDOW"]
    assert setting.default == config.DEFAULTS.maintenance_window


SENTRY_DSN = "https://0123456789abcdef@o1.ingest.sentry.io/42"


def test_a_sentry_dsn_is_a_secret_url_and_unset_means_off() -> None:
    assert config.parse({}).sentry_dsn is None
    assert config.parse({"sentryDsn": SENTRY_DSN}).sentry_dsn == SENTRY_DSN
    assert SENTRY_DSN not in repr(config.parse({"sentryDsn": SENTRY_DSN}))
    with pytest.raises(ValueError, match=r"sentryDsn: the value \(13 characters\)") as error:
        config.parse({"sentryDsn": "secret-no-url"})
    assert "secret-no-url" not in str(error.value)
