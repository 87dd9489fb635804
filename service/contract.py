"""The facts the box, the infrastructure, the local box and the tests share, stated once.

Stdlib only, no I/O: the infrastructure (`infra/`) may import this module and `service.config`
and nothing else of `service`. A path, unit name, S3 prefix, metric name or alarm's priority
that appears anywhere else is imported from here, or checked against it by a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# -- the box's paths -----------------------------------------------------------------------------
BOX_ROOT = "/opt/onebox"  # releases/<version>/ and the `current` symlink
CURRENT = f"{BOX_ROOT}/current"  # the live release; every unit's WorkingDirectory
VENV = f"{BOX_ROOT}/venv"  # the virtualenv every unit's python comes from
BOX_PYTHON = f"{VENV}/bin/python"
STATE_DIR = "/var/lib/onebox"  # StateDirectory=onebox: the database and the backup state
DATABASE = f"{STATE_DIR}/onebox.db"
ENV_FILE = "/etc/onebox/onebox.env"  # the APP_* values the infrastructure writes
SYSTEMD_DIR = "/etc/systemd/system"

# -- systemd units (files of service/deploy/) ----------------------------------------------------
WEB_UNIT = "onebox.service"  # gunicorn
SOCKET_UNIT = "onebox.socket"  # holds the listening port across restarts
DATA_UNIT = "onebox-data.service"  # restore before the web unit, final backup after it
BACKUP_UNIT = "onebox-backup.service"
BACKUP_TIMER = "onebox-backup.timer"
PUBLISH_UNIT = "onebox-publish.service"
AGENT_UNIT = "onebox-agent.service"
AGENT_TIMER = "onebox-agent.timer"
RELOAD_PATH = "onebox-reload.path"  # root helper: a touch of RELOAD_REQUEST -> HUP to gunicorn
RELOAD_UNIT = "onebox-reload.service"
RESTART_PATH = "onebox-restart.path"  # root helper: a touch of RESTART_REQUEST -> restart
RESTART_UNIT = "onebox-restart.service"
SECRETS_UNIT = "onebox-secrets.service"  # root oneshot: SSM SecureStrings -> the secret files
SECRETS_TIMER = "onebox-secrets.timer"  # every minute
NGINX_RELOAD_PATH = "onebox-nginx-reload.path"  # a settings change -> nginx re-renders, reloads
NGINX_RELOAD_UNIT = "onebox-nginx-reload.service"
NODE_EXPORTER_UNIT = "onebox-node-exporter.service"  # prometheus: true only (install.d/40-)
UNITS: tuple[str, ...] = (
    WEB_UNIT,
    SOCKET_UNIT,
    DATA_UNIT,
    BACKUP_UNIT,
    BACKUP_TIMER,
    PUBLISH_UNIT,
    AGENT_UNIT,
    AGENT_TIMER,
    RELOAD_PATH,
    RELOAD_UNIT,
    RESTART_PATH,
    RESTART_UNIT,
    SECRETS_UNIT,
    SECRETS_TIMER,
    NGINX_RELOAD_PATH,
    NGINX_RELOAD_UNIT,
    NODE_EXPORTER_UNIT,
)

# -- the deploy agent's user and its requests to the root helpers --------------------------------
AGENT_USER = "onebox-agent"  # owns the releases, `current` and the env file; no capabilities
AGENT_RUNTIME_DIR = f"/run/{AGENT_USER}"  # the agent unit's RuntimeDirectory=
RELOAD_REQUEST = f"{AGENT_RUNTIME_DIR}/reload"  # onebox-reload.path's PathModified=
RESTART_REQUEST = f"{AGENT_RUNTIME_DIR}/restart"  # onebox-restart.path's PathModified=

# -- backups -------------------------------------------------------------------------------------
BACKUP_PREFIX = "backups"  # s3://<bucket>/backups/<UTC time>-<host>.sqlite.gz
BACKUP_EVERY_SECONDS = 300  # onebox-backup.timer's OnCalendar (a test holds the two equal)
BACKUP_MISSED_RUNS = 3  # the backup alarms fire after this many missed runs
BACKUP_STALE_SECONDS = BACKUP_EVERY_SECONDS * BACKUP_MISSED_RUNS
# Where the box's backups write PROM_BACKUP_LAST_SUCCESS (APP_BACKUP_TEXTFILE): node_exporter's
# textfile collector reads *.prom files from this directory (--collector.textfile.directory).
BACKUP_TEXTFILE_DIR = "/var/lib/node_exporter/textfile_collector"
BACKUP_TEXTFILE = f"{BACKUP_TEXTFILE_DIR}/onebox_backup.prom"

# -- releases ------------------------------------------------------------------------------------
RELEASE_PREFIX = "releases"  # s3://<bucket>/releases/<sha256>.tar.gz


def release_key(sha256: str) -> str:
    """The S3 key of the release archive whose SHA-256 is `sha256`."""
    return f"{RELEASE_PREFIX}/{sha256}.tar.gz"


def release_parameter(stack: str) -> str:
    """The SSM parameter that points the box at its release."""
    return f"/onebox/{stack}/release"


# -- metrics -------------------------------------------------------------------------------------
def metrics_namespace(stack: str) -> str:
    """The CloudWatch namespace of the box's custom metrics."""
    return f"Onebox/{stack}"


METRIC_DIMENSION = "InstanceId"
# The CloudWatch custom metrics the publisher sends; the alarms and the dashboard read them.
REQUESTS_METRIC = "Requests"
ERRORS_5XX_METRIC = "Errors5xx"
LATENCY_P95_METRIC = "LatencyP95"
ACTIVE_USERS_METRIC = "ActiveUsers"
HEALTHY_METRIC = "Healthy"  # the heartbeat: 1 when the service answered its health check
BACKUP_AGE_METRIC = "BackupAgeSeconds"
MEMORY_USED_METRIC = "MemoryUsedPercent"
DISK_USED_METRIC = "DiskUsedPercent"
# Name -> CloudWatch unit, in the order the publisher sends and the dashboard graphs them.
CLOUDWATCH_METRICS: dict[str, str] = {
    REQUESTS_METRIC: "Count",
    ERRORS_5XX_METRIC: "Count",
    LATENCY_P95_METRIC: "Milliseconds",
    ACTIVE_USERS_METRIC: "Count",
    HEALTHY_METRIC: "None",
    BACKUP_AGE_METRIC: "Seconds",
    MEMORY_USED_METRIC: "Percent",
    DISK_USED_METRIC: "Percent",
}
# The log group's metric filter counts unhandled exceptions (one per logged fingerprint).
ERRORS_METRIC = "Errors"
# Prometheus names: the service serves the first two on /metrics; the backup job writes the last
# to a node_exporter textfile-collector file.
PROM_REQUESTS = "onebox_http_requests"  # counter: onebox_http_requests_total
PROM_LATENCY = "onebox_http_request_duration_seconds"  # histogram
PROM_BACKUP_LAST_SUCCESS = "onebox_backup_last_success_timestamp_seconds"  # gauge
PROM_JOB = "onebox"  # the scrape job the rules select

# -- alarms --------------------------------------------------------------------------------------
Priority = Literal["P1", "P2", "P3", "P4"]
Severity = Literal["critical", "warning"]


@dataclass(frozen=True)
class Alarm:
    """One alarm's incident level: `priority` sets the response time (RUNBOOK), `severity` who
    is woken (critical pages now; warning is looked at within the working day)."""

    key: str  # the CloudWatch alarm key (infra/alarm_specs.py)
    priority: Priority
    severity: Severity
    prometheus: tuple[str, ...] = ()  # the Prometheus alerts that mirror it
    cloudwatch: bool = True  # False: Prometheus alerts only, no CloudWatch alarm (yet)


ALARMS: tuple[Alarm, ...] = (
    Alarm("heartbeat-missing", "P1", "critical", ("OneboxDown", "OneboxHeartbeatMissing")),
    Alarm("status-system", "P1", "critical"),
    Alarm("status-instance", "P1", "critical"),
    Alarm("error-rate", "P2", "critical", ("OneboxHighErrorRate",)),
    Alarm("latency-p95", "P2", "warning", ("OneboxLatencyP95AboveSLO",)),
    Alarm("backup-age", "P2", "warning", ("OneboxBackupStale", "OneboxBackupAgeUnknown")),
    Alarm("disk-used", "P2", "warning"),
    Alarm("cpu-high", "P3", "warning", ("OneboxHighCpu",)),
    Alarm("cpu-credits-low", "P3", "warning"),
    Alarm("memory-used", "P3", "warning"),
    # The error budget burns too fast: paged like `error-rate`, whose budget it spends.
    Alarm("slo-burn", "P2", "critical", ("OneboxErrorBudgetFastBurn", "OneboxErrorBudgetSlowBurn")),
    # Route 53 cannot reach the public URL: an outage as users see it, whatever the box says.
    Alarm("uptime-check", "P1", "critical"),
    Alarm("errors", "P3", "warning"),
)
# The ha topology's alarms (CloudWatch only); ALARMS' rows it keeps are infra/alarm_specs.py's
# HA_KEPT and HA_BY_GROUP.
HA_ALARMS: tuple[Alarm, ...] = (
    # The balancer itself answers 5xx: no healthy target, or targets failing to connect.
    Alarm("alb-5xx", "P1", "critical"),
    Alarm("target-p95", "P2", "warning"),
    Alarm("unhealthy-hosts", "P2", "critical"),
    Alarm("db-cpu", "P3", "warning"),
    Alarm("db-free-storage", "P2", "warning"),
    Alarm("db-connections", "P3", "warning"),
)
ALARMS_BY_KEY = {alarm.key: alarm for alarm in (*ALARMS, *HA_ALARMS)}

# -- more of the box's paths ---------------------------------------------------------------------
RUNTIME_DIR = "/run/onebox"  # RuntimeDirectory=onebox: gunicorn's control socket, metrics files

# -- service level objectives --------------------------------------------------------------------
SLO_AVAILABILITY_PCT = 99.5  # of requests answered without a 5xx, over the window below
SLO_WINDOW_DAYS = 30  # the error budget's window: 0.5 % of 30 days of requests
CLOUDWATCH_ALARM_KEYS = frozenset(alarm.key for alarm in (*ALARMS, *HA_ALARMS) if alarm.cloudwatch)


@dataclass(frozen=True)
class BurnWindow:
    """A multi-window burn-rate alert: it fires while the error budget burns `burn` times faster
    than the objective allows over both `long` and `short` (the short window makes it stop soon
    after the burn stops). A burn of 14.4 spends 2 % of a 30-day budget in one hour."""

    alert: str
    long: str  # PromQL durations
    short: str
    burn: float


BURN_WINDOWS: tuple[BurnWindow, ...] = (
    BurnWindow("OneboxErrorBudgetFastBurn", "1h", "5m", 14.4),
    BurnWindow("OneboxErrorBudgetSlowBurn", "6h", "30m", 6),
)


# -- first boot and settings ---------------------------------------------------------------------
BOOTSTRAP_ENV_FILE = "/etc/onebox/bootstrap.env"  # the user-data's stack facts (ONEBOX_*)
BOOTSTRAP_UNIT = "onebox-bootstrap.service"  # fetches the release, runs its installer
INSTALLER = "service/deploy/install.sh"  # inside a release: what makes a box run it
INSTALL_PARTS = "service/deploy/install.d"  # executable parts the installer runs in order
INSTALL_STATE = f"{STATE_DIR}/install-state.json"  # the step running, or where it stopped


def log_group(stack: str) -> str:
    """The stack's CloudWatch Logs group, which the box ships its journal to (APP_LOG_GROUP)."""
    return f"/onebox/{stack}"


def settings_parameter(stack: str) -> str:
    """The SSM String parameter holding the box's env file text (the APP_* settings)."""
    return f"/onebox/{stack}/settings"


# What a running box cannot take from a new release: its units and installer parts (placed by
# root at first boot) and its packages (a HUP keeps the old imports). The user-data carries a
# digest of these paths, so a change to them replaces the box; the agent refuses such a release.
BOX_BASE = ("service/deploy", "service/requirements.txt", "service/requirements.lock")


# -- the edge and the secrets on the box ---------------------------------------------------------
ORIGIN_HEADER = "X-Onebox-Origin"  # the header CloudFront sends to the origin
SECRETS_DIR = "/etc/onebox/secrets"  # root:onebox 0750
API_TOKEN_FILE = f"{SECRETS_DIR}/api-token"  # root:onebox 0440, the token alone
ORIGIN_MAP_FILE = f"{SECRETS_DIR}/origin.conf"  # root:nginx 0640, an nginx map of the secret
SENTRY_DSN_FILE = f"{SECRETS_DIR}/sentry-dsn"  # root:onebox 0440, only while a DSN is set
GUNICORN_SOCKET = (
    f"{RUNTIME_DIR}/gunicorn.sock"  # onebox.socket's ListenStream once nginx fronts it
)


def api_token_parameter(stack: str) -> str:
    """The SSM SecureString holding the API token (the box reads it with decryption)."""
    return f"/onebox/{stack}/api-token"


def origin_secret_parameter(stack: str) -> str:
    """The SSM SecureString holding the secret CloudFront sends in ORIGIN_HEADER."""
    return f"/onebox/{stack}/origin-secret"


def sentry_dsn_parameter(stack: str) -> str:
    """The SSM SecureString holding the Sentry DSN; absent when Sentry is off."""
    return f"/onebox/{stack}/sentry-dsn"


NGINX_UNIT = "nginx.service"  # AL2023's package; its drop-in (service/deploy/nginx/) renders
WEB_GROUP = "onebox"  # onebox.service's Group=: may read API_TOKEN_FILE
NGINX_GROUP = "nginx"  # nginx's worker group: may read ORIGIN_MAP_FILE
# What the publisher scrapes once nginx fronts the port (nginx answers /metrics with 404).
GUNICORN_METRICS_URL = f"unix:{GUNICORN_SOCKET}:/metrics"


# -- the ha topology (an ALB, an auto scaling group, RDS PostgreSQL) -----------------------------
TOPOLOGIES = ("single", "ha")  # the stack's `topology`: one box (the default), or the ha fleet
# gunicorn's graceful_timeout (service/web/gunicorn.conf.py; a test holds the two equal), and
# the target group's deregistration delay: the balancer drains a box as long as gunicorn does.
GRACEFUL_TIMEOUT_SECONDS = 30
HEALTH_READY_PATH = "/api/health/ready"  # 200 only while the service serves: the ALB's check
DATABASE_NAME = "onebox"  # the RDS instance's database
DATABASE_USER = "onebox"  # its master user; RDS keeps the password in Secrets Manager
DATABASE_PORT = 5432
WEB_USER = "onebox"  # onebox.service's User=: owns PGPASS_FILE (libpq reads it as that user)
# libpq's password file (PGPASSFILE), from the RDS-managed secret (onebox-secrets): the service
# user's, mode 0600, as libpq ignores a password file with any group or world bit.
PGPASS_FILE = f"{SECRETS_DIR}/pgpass"
STACK_DIMENSION = "Stack"  # the publisher's per-stack dimension (ha): alarms across instances


def database_secret_parameter(stack: str) -> str:
    """The SSM String parameter naming the RDS-managed secret (its ARN) onebox-secrets reads;
    it exists in the ha topology only. (The ARN's `rds!db-...` name is no env-file value.)"""
    return f"/onebox/{stack}/database-secret"
