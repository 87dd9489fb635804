"""The APP_* environment contract: every setting a process on the box reads (the web service,
the backup job, the metrics publisher and the deploy agent), its default and its meaning.

This table is the single source of truth; docs/configuration.md's table is tested against it.
Values are parsed and validated here, so a bad value stops the process at start-up with a
message that names the variable and the value, instead of failing on the first request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.contract import (
    BACKUP_PREFIX,
    BOX_ROOT,
    ENV_FILE,
    RELOAD_REQUEST,
    RESTART_REQUEST,
    metrics_namespace,
)
from service.values import (
    ConfigError,
    Setting,
    command,
    csv,
    environment,
    flag,
    keep,
    percent,
    positive_int,
    positive_number,
    text,
)

__all__ = ["SETTINGS", "ConfigError", "Setting", "defaults", "from_environ"]

SETTINGS: tuple[Setting, ...] = (
    Setting("APP_DATABASE", "DATABASE", "var/onebox.db", text, "SQLite database file (WAL mode)"),
    Setting("APP_ENV", "ENV", "production", environment, "production, development or test"),
    Setting(
        "APP_SLOW_REQUEST_MS",
        "SLOW_REQUEST_MS",
        "1000",
        positive_int,
        "a request at least this slow is logged with isSlowRequest=true",
    ),
    Setting(
        "APP_USER_LIMIT",
        "USER_LIMIT",
        "10",
        positive_int,
        "users the box is sized for; /api/metrics reports capacity used against it",
    ),
    Setting(
        "APP_API_TOKEN",
        "API_TOKEN",
        "",
        text,
        "when set, every /api/users/... route and /api/metrics need "
        "'Authorization: Bearer <token>' (APP_API_TOKEN_FILE wins when both are set)",
    ),
    Setting(
        "APP_CORS_ORIGINS",
        "CORS_ORIGINS",
        "",
        csv,
        "comma-separated origins allowed by CORS ('*' for any); empty: no CORS headers",
    ),
    Setting(
        "APP_SLO_P95_MS",
        "SLO_P95_MS",
        "1000",
        positive_int,
        "latency objective: p95 of all requests below this many milliseconds",
    ),
    Setting(
        "APP_SLO_ERROR_RATE_PCT",
        "SLO_ERROR_RATE_PCT",
        "1",
        percent,
        "error objective: share of 5xx responses below this percentage",
    ),
    Setting(
        "APP_MAX_BODY_BYTES",
        "MAX_CONTENT_LENGTH",
        "4096",
        positive_int,
        "largest request body accepted; larger ones get 413",
    ),
    Setting(
        "APP_DB_BUSY_TIMEOUT_MS",
        "DB_BUSY_TIMEOUT_MS",
        "5000",
        positive_int,
        "how long a write waits for the SQLite write lock before a 503",
    ),
    Setting(
        "APP_VERSION",
        "VERSION",
        "dev",
        text,
        "release identifier reported by /api/health (set by the deploy)",
    ),
    Setting(
        "APP_BACKUP_BUCKET",
        "BACKUP_BUCKET",
        "",
        text,
        "S3 bucket for database backups (written by the infra); empty: backups are off",
    ),
    Setting(
        "APP_BACKUP_PREFIX",
        "BACKUP_PREFIX",
        BACKUP_PREFIX,
        text,
        "key prefix of the backups in the bucket",
    ),
    Setting(
        "APP_BACKUP_KEEP",
        "BACKUP_KEEP",
        "7",
        positive_int,
        "retention: the newest N backups are kept whatever their age",
    ),
    Setting(
        "APP_BACKUP_RETENTION_DAYS",
        "BACKUP_RETENTION_DAYS",
        "7",
        positive_int,
        "retention: every backup younger than this many days is kept",
    ),
    Setting(
        "APP_BACKUP_STATE",
        "BACKUP_STATE",
        "",
        text,
        "JSON file the backup writes on success; empty: backup-state.json beside APP_DATABASE",
    ),
    Setting(
        "APP_BACKUP_TEXTFILE",
        "BACKUP_TEXTFILE",
        "",
        text,
        "node_exporter textfile-collector file the backup job writes "
        "onebox_backup_last_success_timestamp_seconds to; empty: not written",
    ),
    Setting(
        "APP_RESTORE_BUCKET",
        "RESTORE_BUCKET",
        "",
        text,
        "bucket a first-boot restore falls back to while APP_BACKUP_BUCKET has no backup",
    ),
    Setting(
        "APP_METRICS_NAMESPACE",
        "METRICS_NAMESPACE",
        metrics_namespace("local"),
        text,
        "CloudWatch namespace the publisher writes to (Onebox/<stack>)",
    ),
    Setting(
        "APP_METRICS_URL",
        "METRICS_URL",
        "http://127.0.0.1:8000/metrics",
        text,
        "the service's Prometheus endpoint the publisher scrapes",
    ),
    Setting(
        "APP_METRICS_INTERVAL",
        "METRICS_INTERVAL",
        "60",
        positive_int,
        "seconds between two PutMetricData calls of the publisher",
    ),
    Setting(
        "APP_INSTANCE_ID",
        "INSTANCE_ID",
        "",
        text,
        "metric dimension InstanceId; empty: asked from the instance metadata service",
    ),
    Setting(
        "APP_IMDS_URL",
        "IMDS_URL",
        "http://169.254.169.254",
        text,
        "instance metadata service (IMDSv2) the publisher asks for the instance id",
    ),
    Setting(
        "APP_RELEASE_PARAMETER",
        "RELEASE_PARAMETER",
        "",
        text,
        "SSM parameter holding the release pointer the deploy agent follows (agent: required)",
    ),
    Setting(
        "APP_RELEASES_ROOT",
        "RELEASES_ROOT",
        BOX_ROOT,
        text,
        "directory holding releases/ and the `current` symlink the deploy agent switches",
    ),
    Setting(
        "APP_AGENT_URL",
        "AGENT_URL",
        "",
        text,
        "where the deploy agent checks the service; empty: the origin of APP_METRICS_URL",
    ),
    Setting(
        "APP_AGENT_RELOAD_COMMAND",
        "AGENT_RELOAD_COMMAND",
        f"touch {RELOAD_REQUEST}",
        command,
        "how the deploy agent asks for a graceful reload of the web service "
        "(onebox-reload.path turns the touch into a HUP to gunicorn)",
    ),
    Setting(
        "APP_AGENT_CHECK_SECONDS",
        "AGENT_CHECK_SECONDS",
        "60",
        positive_number,
        "how long a new release has to become ready and report its version",
    ),
    Setting(
        "APP_AGENT_KEEP",
        "AGENT_KEEP",
        "5",
        keep,
        "installed releases the deploy agent keeps on disk, current and previous included",
    ),
    Setting(
        "APP_MAINTENANCE_WINDOW",
        "MAINTENANCE_WINDOW",
        "Sun *-*-* 03:00:00",
        text,
        "systemd calendar spec (UTC) starting the weekly patch run; a reboot the patch needs "
        "happens only in the hour that follows",
    ),
    Setting(
        "APP_LOG_GROUP",
        "LOG_GROUP",
        "",
        text,
        "CloudWatch Logs group the box's journald lines are shipped to (/onebox/<stack>); "
        "empty: not shipped",
    ),
    Setting(
        "APP_SETTINGS_PARAMETER",
        "SETTINGS_PARAMETER",
        "",
        text,
        "SSM parameter holding the env file's text; the deploy agent rewrites the env file "
        "when it changes (empty: it does not)",
    ),
    Setting(
        "APP_AGENT_ENV_FILE",
        "AGENT_ENV_FILE",
        ENV_FILE,
        text,
        "the env file the deploy agent keeps equal to APP_SETTINGS_PARAMETER",
    ),
    Setting(
        "APP_AGENT_RESTART_COMMAND",
        "AGENT_RESTART_COMMAND",
        f"touch {RESTART_REQUEST}",
        command,
        "what the deploy agent runs after it rewrote the env file, so the long-running "
        "processes read it (onebox-restart.path restarts them: a HUP keeps gunicorn's old "
        "environment)",
    ),
    Setting(
        "APP_TRUST_PROXY",
        "TRUST_PROXY",
        "false",
        flag,
        "true only when every request comes through the edge: log lines then take the client "
        "address from CloudFront-Viewer-Address or X-Forwarded-For's last hop; "
        "false: from the connection",
    ),
    Setting(
        "APP_API_TOKEN_FILE",
        "API_TOKEN_FILE",
        "",
        text,
        "file holding the API token (read at start and on every reload); a missing or empty "
        "file stops the start; empty: APP_API_TOKEN is the token",
    ),
)


def from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    """Parse every setting from `environ`, falling back to its default."""
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env, setting.default)
        try:
            values[setting.key] = setting.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{setting.env}={raw!r}: {exc}") from None
    return values


def defaults() -> dict[str, Any]:
    """Every setting at its default value."""
    return from_environ({})
