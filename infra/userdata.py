"""The box's two texts, rendered from plain values (pure: no pulumi).

- The user-data: a bootstrap cloud-config that writes the stack's facts (stack, region,
  bucket, the release and settings parameter names, the HTTP port, and the digest of what a
  running box cannot take from a release: units, installer parts, packages), the bootstrap
  script and its unit, and starts it. It holds no service file and no service setting, so only
  a change of those facts replaces the box. Plain text, at most 4 KB: no gzip, whose bytes differ
  between zlib builds, so every machine renders the same bytes.
- The settings: the env file (contract.ENV_FILE) the box's processes read, published as the
  settings parameter; the installer writes it at first boot and the deploy agent rewrites it
  when it changes, with no replacement.

Neither holds a secret (the box gets AWS access from its instance role; it reads the API
token and the origin secret from their SecureStrings, infra/secrets.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from infra.config import StackConfig
from service import config as service_config
from service.contract import (
    AGENT_TIMER,
    BACKUP_PREFIX,
    BACKUP_TEXTFILE,
    BACKUP_TIMER,
    BOOTSTRAP_ENV_FILE,
    BOOTSTRAP_UNIT,
    DATA_UNIT,
    DATABASE_NAME,
    DATABASE_PORT,
    DATABASE_USER,
    GUNICORN_METRICS_URL,
    PGPASS_FILE,
    SLO_AVAILABILITY_PCT,
    SYSTEMD_DIR,
    log_group,
    metrics_namespace,
    release_parameter,
    settings_parameter,
)

USER_DATA_LIMIT = 4 * 1024  # ours, well under EC2's 16 KB: the bootstrap must stay small
FILES = Path(__file__).resolve().parent / "files"
BOOTSTRAP_SOURCE = FILES / "bootstrap.sh"
BOOTSTRAP_UNIT_SOURCE = FILES / BOOTSTRAP_UNIT
BOOTSTRAP = "/usr/local/sbin/onebox-bootstrap"

# The StackConfig fields each text is made of (a test holds these exact by changing each field):
# a change of a FACT_FIELDS value replaces the box; of a SETTING_FIELDS value, it does not.
# `prometheus` is both: the installer's part acts on it once (installs node_exporter or not).
FACT_FIELDS = ("region", "http_port", "prometheus")
SETTING_FIELDS = ("region", "http_port", "restore_from_bucket", "backup_keep",
                  "backup_retention_days", "maintenance_window", "writes_per_minute",
                  "reads_per_minute", "prometheus", "slo_availability_pct")  # fmt: skip


@dataclass(frozen=True)
class BoxFacts:
    """What the user-data carries: facts of the stack that no service setting changes."""

    stack: str
    region: str
    bucket: str
    http_port: int
    base: str  # infra.sources.base_digest: the units, installer parts and packages
    prometheus: bool = False  # node_exporter installed (install.d/40-node-exporter.sh) or not
    ha: bool = False  # topology ha: the marker and drop-ins that skip the SQLite units


@dataclass(frozen=True)
class BoxEnvironment:
    """Plain values the box's env file is made of (the APP_* contract)."""

    stack: str
    region: str
    bucket: str
    restore_bucket: str | None
    backup_keep: int
    backup_retention_days: int
    http_port: int
    maintenance_window: str = "Sun *-*-* 03:00:00"
    writes_per_minute: int = 120
    reads_per_minute: int = 600
    prometheus: bool = False  # node_exporter reads the backup's textfile
    slo_availability_pct: float = SLO_AVAILABILITY_PCT  # /api/metrics' error budget
    database_host: str | None = None  # topology ha: the RDS instance (None: SQLite on the box)


def box_facts(config: StackConfig, stack: str, bucket: str, base: str) -> BoxFacts:
    """The user-data's facts from the stack's config (FACT_FIELDS only) and the base digest."""
    return BoxFacts(
        stack=stack,
        region=config.region,
        bucket=bucket,
        http_port=config.http_port,
        base=base,
        prometheus=config.prometheus,
    )


def box_environment(config: StackConfig, stack: str, bucket: str) -> BoxEnvironment:
    """The env file's values from the stack's config (SETTING_FIELDS only)."""
    return BoxEnvironment(
        stack=stack,
        region=config.region,
        bucket=bucket,
        restore_bucket=config.restore_from_bucket,
        backup_keep=config.backup_keep,
        backup_retention_days=config.backup_retention_days,
        http_port=config.http_port,
        maintenance_window=config.maintenance_window,
        writes_per_minute=config.writes_per_minute,
        reads_per_minute=config.reads_per_minute,
        prometheus=config.prometheus,
        slo_availability_pct=config.slo_availability_pct,
    )


def environment(box: BoxEnvironment) -> dict[str, str]:
    """The env file's APP_* values (contract.ENV_FILE); gunicorn adds APP_VERSION from the
    release's VERSION file."""
    return {
        "APP_ENV": "production",
        "APP_BACKUP_BUCKET": box.bucket,
        "APP_BACKUP_PREFIX": BACKUP_PREFIX,
        "APP_BACKUP_KEEP": str(box.backup_keep),
        "APP_BACKUP_RETENTION_DAYS": str(box.backup_retention_days),
        "APP_RESTORE_BUCKET": box.restore_bucket or box.bucket,
        "APP_METRICS_NAMESPACE": metrics_namespace(box.stack),
        # nginx holds the port and serves no /metrics: the publisher reads gunicorn's socket,
        # the agent checks health through nginx, and the service trusts nginx's client address.
        "APP_METRICS_URL": GUNICORN_METRICS_URL,
        "APP_AGENT_URL": f"http://127.0.0.1:{box.http_port}",
        "APP_TRUST_PROXY": "true",
        "APP_RELEASE_PARAMETER": release_parameter(box.stack),
        "APP_SETTINGS_PARAMETER": settings_parameter(box.stack),
        "APP_LOG_GROUP": log_group(box.stack),
        "APP_MAINTENANCE_WINDOW": box.maintenance_window,
        "APP_RATE_WRITES_PER_MINUTE": str(box.writes_per_minute),
        "APP_RATE_READS_PER_MINUTE": str(box.reads_per_minute),
        "APP_SLO_AVAILABILITY_PCT": str(box.slo_availability_pct),
        "AWS_REGION": box.region,
        **_prometheus(box.prometheus),
        **_ha(box),
    }


def _ha(box: BoxEnvironment) -> dict[str, str]:
    """topology ha: the PostgreSQL store (password from the file onebox-secrets writes), and
    metrics also per stack, so the alarms see the fleet as one service. Nothing for single."""
    if box.database_host is None:
        return {}
    url = f"postgresql://{DATABASE_USER}@{box.database_host}:{DATABASE_PORT}/{DATABASE_NAME}"
    return {
        "APP_DATABASE_URL": url,
        # libpq's own variables beside the URL (the env file's format carries no `?` or `&`):
        # the password file onebox-secrets writes, and TLS, which RDS speaks.
        "PGPASSFILE": PGPASS_FILE,
        "PGSSLMODE": "require",
        "APP_METRICS_STACK": box.stack,
    }


def _prometheus(on: bool) -> dict[str, str]:
    """With prometheus on, the installer runs node_exporter and the backups write its textfile;
    off, neither variable is written (both default to off)."""
    return {"APP_PROMETHEUS": "true", "APP_BACKUP_TEXTFILE": BACKUP_TEXTFILE} if on else {}


def settings(box: BoxEnvironment) -> str:
    """The settings parameter's value: the env file's text."""
    return service_config.env_file_text(environment(box))


def bootstrap_environment(facts: BoxFacts) -> dict[str, str]:
    """The bootstrap's environment (contract.BOOTSTRAP_ENV_FILE), also the installer's."""
    return {
        "ONEBOX_STACK": facts.stack,
        "AWS_REGION": facts.region,
        "ONEBOX_BUCKET": facts.bucket,
        "ONEBOX_RELEASE_PARAMETER": release_parameter(facts.stack),
        "ONEBOX_SETTINGS_PARAMETER": settings_parameter(facts.stack),
        "ONEBOX_HTTP_PORT": str(facts.http_port),
        # Read by nothing: here so a change of units, parts or packages replaces the box.
        "ONEBOX_BASE": facts.base,
        # Read by nothing either: the installer acts on APP_PROMETHEUS once, so a change of it
        # replaces the box.
        **({"ONEBOX_PROMETHEUS": "true"} if facts.prometheus else {}),
    }


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings as `|` blocks, so the user-data reads like the files it holds."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def _file(path: str, content: str, permissions: str = "0644") -> dict[str, Any]:
    return {"path": path, "content": content, "owner": "root:root", "permissions": permissions}


# topology ha: the units the box skips (ha_files), and why.
HA_SKIPPED_UNITS = {
    BACKUP_TIMER: "RDS automated backups and point-in-time restore replace the SQLite backups",
    DATA_UNIT: "the database is RDS PostgreSQL: no SQLite file to restore or back up",
    AGENT_TIMER: "a deploy runs the agent on one box at a time (SSM, `infra.cli deploy`)",
}


def ha_files() -> list[dict[str, Any]]:
    """A drop-in per skipped unit: the unit stays enabled and skips itself (a failed condition
    is no failure: onebox.service, which requires the data unit, starts). The condition names
    the directory of the bootstrap's file, which every box has: where this drop-in is, the unit
    never runs. cloud-init's defaults (root:root, 0644) are the files': left out, like every
    byte these can spare, so the 4 KB hold for a stack name of some 30 characters."""
    drop_in = {
        "content": f"[Unit]\nConditionPathExists=!{PurePosixPath(BOOTSTRAP_ENV_FILE).parent}\n"
    }
    return [{"path": f"{SYSTEMD_DIR}/{unit}.d/ha.conf", **drop_in} for unit in HA_SKIPPED_UNITS]


def cloud_config(facts: BoxFacts, script: str, unit: str) -> dict[str, Any]:
    """The cloud-config document: the facts, the bootstrap and its unit, then start it."""
    return {
        "write_files": [
            _file(BOOTSTRAP_ENV_FILE, service_config.env_file_text(bootstrap_environment(facts))),
            _file(BOOTSTRAP, script, "0755"),
            _file(f"{SYSTEMD_DIR}/{BOOTSTRAP_UNIT}", unit),
            *(ha_files() if facts.ha else []),
        ],
        "runcmd": [
            ["systemctl", "daemon-reload"],
            # Enabled, so a reboot before the install finished resumes it; --no-block, so
            # cloud-init finishes while the unit retries.
            ["systemctl", "enable", "--now", "--no-block", BOOTSTRAP_UNIT],
        ],
    }


def render(facts: BoxFacts) -> str:
    """The user-data text, '#cloud-config' and the YAML document; refuses more than 4 KB."""
    document = cloud_config(facts, BOOTSTRAP_SOURCE.read_text(), BOOTSTRAP_UNIT_SOURCE.read_text())
    text = "#cloud-config\n" + yaml.dump(document, Dumper=_BlockDumper, sort_keys=False, width=1000)
    size = len(text.encode())
    if size > USER_DATA_LIMIT:
        raise ValueError(f"user-data: {size} bytes is over {USER_DATA_LIMIT}")
    return text
