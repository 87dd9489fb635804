"""The bootstrap user-data: valid cloud-config, at most 4 KB of plain text, stack facts only."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from infra import config, sources, userdata
from infra.mocks import Run, run_program
from service import config as service_config
from service.agent.settings import AgentSettings
from service.contract import (
    BACKUP_TEXTFILE,
    BACKUP_TEXTFILE_DIR,
    BOOTSTRAP_ENV_FILE,
    BOOTSTRAP_UNIT,
    SYSTEMD_DIR,
    metrics_namespace,
    release_parameter,
    settings_parameter,
)
from tests.infra.conftest import dev_values
from tests.infra.helpers import user_data, user_data_text, written_files
from tests.infra.test_units import HOST_UNITS
from tests.support import require_tool

BOX = userdata.BoxEnvironment("dev", "us-east-1", "bucket-1", None, 7, 7, 80)
FACTS = userdata.BoxFacts("dev", "us-east-1", "bucket-1", 80, "0" * 64)
# A different value for every field of the stack's config (each one valid).
CHANGED: dict[str, Any] = {
    "instance_type": "t3.small",
    "http_port": 8080,
    "allowed_cidrs": ("203.0.113.0/24",),
    "ssh_cidr": "198.51.100.7/32",
    "alert_email": "ops@example.com",
    "backup_keep": 30,
    "backup_retention_days": 90,
    "monthly_budget_usd": 99.0,
    "running": False,
    "restore_from_bucket": "onebox-backups-from-before",
    "free_tier": "legacy",
    "ami_id": "ami-0fedcba9876543210",
    "region": "eu-west-1",
    "maintenance_window": "Sat *-*-* 04:30:00",
    "log_retention_days": 30,
    "sentry_dsn": "https://key@o1.ingest.sentry.io/1",
    "edge": "none",
    "domain": "api.example.com",
    "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
    "api_token": "a" * 40,
    "writes_per_minute": 30,
    "reads_per_minute": 90,
    "prometheus": True,
    "slo_availability_pct": 99.9,
    # ha's keys reach the user-data as the database's secret and address (__main__.py), never
    # as config fields: tests/infra/test_ha_box.py checks what they add.
    "topology": "ha",
    "asg_max": 6,
    "db_instance_class": "db.t4g.small",
    "db_storage_gb": 50,
}


def _render(stack_config: config.StackConfig) -> str:
    return userdata.render(userdata.box_facts(stack_config, "dev", "bucket-1", "0" * 64))


def _settings(stack_config: config.StackConfig) -> str:
    return userdata.settings(userdata.box_environment(stack_config, "dev", "bucket-1"))


@pytest.mark.parametrize("variant", ["dev_run", "admin_run"])
def test_rendered_user_data_passes_cloud_init_schema(
    variant: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    cloud_init = require_tool("cloud-init")
    path = tmp_path / "user-data.yaml"
    path.write_text(user_data_text(request.getfixturevalue(variant)))
    command = [cloud_init, "schema", "--config-file", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid cloud-config" in result.stdout


def test_user_data_is_plain_text_of_at_most_4_kib(admin_run: Run) -> None:
    text = user_data_text(admin_run)
    assert text.startswith("#cloud-config\n")
    assert len(text.encode()) <= userdata.USER_DATA_LIMIT == 4096


def test_oversized_user_data_is_refused_naming_its_size() -> None:
    big = userdata.BoxFacts("dev", "us-east-1", "b" * 5000, 80, "0" * 64)
    with pytest.raises(ValueError, match=r"user-data: \d+ bytes is over 4096"):
        userdata.render(big)


def test_every_config_key_in_no_fact_field_leaves_the_user_data_byte_identical() -> None:
    assert set(CHANGED) == {field.name for field in dataclasses.fields(config.StackConfig)}
    base = _render(config.DEFAULTS)
    for name, value in CHANGED.items():
        changed = _render(dataclasses.replace(config.DEFAULTS, **{name: value}))
        assert (changed != base) == (name in userdata.FACT_FIELDS), name


def test_every_setting_field_reaches_the_settings_and_nothing_else_does() -> None:
    base = _settings(config.DEFAULTS)
    for name, value in CHANGED.items():
        changed = _settings(dataclasses.replace(config.DEFAULTS, **{name: value}))
        assert (changed != base) == (name in userdata.SETTING_FIELDS), name


def test_two_stacks_differing_only_in_service_settings_boot_from_the_same_bytes() -> None:
    settings_only = {
        "backupKeep": 30,
        "backupRetentionDays": 90,
        "restoreFromBucket": "onebox-backups-from-before",
        "alertEmail": "ops@example.com",
        "monthlyBudgetUsd": 99,
    }
    one = run_program(dev_values())
    other = run_program(dev_values(**settings_only))
    assert user_data_text(one).encode() == user_data_text(other).encode()
    assert (
        one.named("onebox-settings-parameter").inputs["value"]
        != (other.named("onebox-settings-parameter").inputs["value"])
    )


def test_a_change_to_units_parts_or_packages_changes_the_base_and_so_the_user_data(
    tmp_path: Path,
) -> None:
    files = {
        "service/requirements.txt": "flask==3.1.3\n",
        "service/requirements.lock": "flask==3.1.3 --hash=sha256:00\n",
        "service/deploy/onebox.service": "[Service]\n",
        "service/deploy/install.d/10-x.sh": "true\n",
        "service/web/app.py": "A = 1\n",
    }

    def base(**changed: str) -> str:
        root = tmp_path / str(len(list(tmp_path.iterdir())))
        for name, text in {**files, **changed}.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        subprocess.run(["git", "init", "-q", str(root)], check=True, timeout=30)
        subprocess.run(["git", "-C", str(root), "add", "-A"], check=True, timeout=30)
        return sources.base_digest(root)

    first = base()
    assert base() == first
    assert base(**{"service/web/app.py": "A = 2\n"}) == first  # code: the agent deploys it
    for name in list(files)[:4]:
        assert base(**{name: "changed\n"}) != first, name


def test_rendering_is_deterministic() -> None:
    assert userdata.render(FACTS).encode() == userdata.render(FACTS).encode()


def test_user_data_writes_the_facts_the_bootstrap_and_its_unit_then_starts_it(
    dev_run: Run,
) -> None:
    files = written_files(dev_run)
    facts = dict(line.split("=", 1) for line in files[BOOTSTRAP_ENV_FILE].splitlines())
    assert facts == {
        "ONEBOX_STACK": "dev",
        "AWS_REGION": "us-east-1",
        "ONEBOX_BUCKET": dev_run.outputs["backup_bucket"],
        "ONEBOX_RELEASE_PARAMETER": release_parameter("dev"),
        "ONEBOX_SETTINGS_PARAMETER": settings_parameter("dev"),
        "ONEBOX_HTTP_PORT": "80",
        "ONEBOX_BASE": sources.base_digest(),
    }
    assert files[userdata.BOOTSTRAP] == userdata.BOOTSTRAP_SOURCE.read_text()
    assert files[f"{SYSTEMD_DIR}/{BOOTSTRAP_UNIT}"] == userdata.BOOTSTRAP_UNIT_SOURCE.read_text()
    assert user_data(dev_run)["runcmd"] == [
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "--now", "--no-block", BOOTSTRAP_UNIT],
    ]
    assert "packages" not in user_data(dev_run)  # dnf runs in the installer, retried


def test_the_bootstrap_is_valid_bash() -> None:
    bash = require_tool("bash")
    result = subprocess.run([bash, "-n", str(userdata.BOOTSTRAP_SOURCE)], check=False)
    assert result.returncode == 0


def test_the_bootstrap_unit_retries_forever_and_passes_systemd_analyze(tmp_path: Path) -> None:
    require_tool("systemd-analyze")
    shutil.copytree(HOST_UNITS, tmp_path / "usr/lib/systemd/system", symlinks=True)
    units = tmp_path / "etc/systemd/system"
    units.mkdir(parents=True)
    shutil.copy(userdata.BOOTSTRAP_UNIT_SOURCE, units / BOOTSTRAP_UNIT)
    script = tmp_path / userdata.BOOTSTRAP.lstrip("/")
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    (tmp_path / BOOTSTRAP_ENV_FILE.lstrip("/")).parent.mkdir(parents=True)
    command = ["systemd-analyze", "verify", f"--root={tmp_path}", "--man=no", BOOTSTRAP_UNIT]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stderr
    text = userdata.BOOTSTRAP_UNIT_SOURCE.read_text()
    for line in ("Type=oneshot", "Restart=on-failure", "StartLimitIntervalSec=0"):
        assert f"\n{line}\n" in text


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("app_env", "x", "'app_env' is not a valid variable name"),
        ("APP_X", 'say "hi"', """APP_X='say "hi"' has characters the env file refuses"""),
        ("APP_X", "a\nAPP_Y=b", "has characters the env file refuses"),
        ("APP_X", "$HOME", "has characters the env file refuses"),
    ],
)
def test_env_file_refuses_what_it_cannot_carry(name: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        service_config.env_file_text({name: value})


def test_a_value_with_spaces_is_quoted_and_reads_back_the_same() -> None:
    values = {"APP_MAINTENANCE_WINDOW": "Sun *-*-* 03:00:00", "APP_ENV": "production"}
    text = service_config.env_file_text(values)
    assert 'APP_MAINTENANCE_WINDOW="Sun *-*-* 03:00:00"\n' in text
    assert service_config.parse_env_file(text) == values


def test_restore_bucket_defaults_to_the_backup_bucket() -> None:
    assert userdata.environment(BOX)["APP_RESTORE_BUCKET"] == "bucket-1"


def test_every_process_on_the_box_accepts_the_environment_the_infra_writes() -> None:
    env = userdata.environment(BOX)
    assert set(env) - {"AWS_REGION"} <= {setting.env for setting in service_config.SETTINGS}
    agent = AgentSettings.from_config(service_config.from_environ(env))
    assert agent.parameter == release_parameter("dev")
    assert agent.bucket == "bucket-1"
    assert env["APP_METRICS_NAMESPACE"] == metrics_namespace("dev")


def test_prometheus_on_writes_the_flag_and_the_backups_textfile_and_off_writes_neither() -> None:
    on = userdata.environment(dataclasses.replace(BOX, prometheus=True))
    assert on["APP_PROMETHEUS"] == "true"
    assert on["APP_BACKUP_TEXTFILE"] == BACKUP_TEXTFILE
    assert PurePosixPath(on["APP_BACKUP_TEXTFILE"]).parent == PurePosixPath(BACKUP_TEXTFILE_DIR)
    off = userdata.environment(BOX)
    assert "APP_PROMETHEUS" not in off and "APP_BACKUP_TEXTFILE" not in off
    assert service_config.from_environ(off)["PROMETHEUS"] is False
    assert service_config.from_environ(on)["PROMETHEUS"] is True
