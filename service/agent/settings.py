"""The environment the deploy agent reads (from /etc/onebox/onebox.env and its unit).

APP_RELEASE_PARAMETER      SSM parameter holding the release JSON (required)
APP_BACKUP_BUCKET          bucket holding releases/<sha256>.tar.gz (required)
APP_RELEASES_ROOT          directory holding releases/ and the `current` symlink (/opt/onebox)
APP_AGENT_URL              where the service answers on this box; default: the origin of
                           APP_METRICS_URL, else http://127.0.0.1
APP_AGENT_RELOAD_COMMAND   graceful reload (systemctl reload onebox.service: HUP to gunicorn)
APP_AGENT_CHECK_SECONDS    how long a new release has to become ready with its version (60)
APP_AGENT_KEEP             installed releases kept on disk, current and previous included (5)
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


class SettingsError(ValueError):
    """A required variable is missing or a value is malformed; the message names it."""


@dataclass(frozen=True)
class AgentSettings:
    parameter: str
    bucket: str
    root: Path
    url: str
    reload_command: tuple[str, ...]
    check_seconds: float
    keep: int


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is not set (it comes from /etc/onebox/onebox.env)")
    return value


def _positive(environ: Mapping[str, str], name: str, default: str) -> float:
    raw = environ.get(name, default)
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise SettingsError(f"{name}={raw!r}: must be a positive number")
    return value


def _service_url(environ: Mapping[str, str]) -> str:
    explicit = environ.get("APP_AGENT_URL", "").strip()
    if explicit:
        return explicit.rstrip("/")
    metrics = urlsplit(environ.get("APP_METRICS_URL", ""))
    if metrics.scheme and metrics.netloc:
        return f"{metrics.scheme}://{metrics.netloc}"
    return "http://127.0.0.1"


def from_environ(environ: Mapping[str, str]) -> AgentSettings:
    """Read and validate every setting; a bad one raises SettingsError naming it."""
    command = tuple(
        shlex.split(environ.get("APP_AGENT_RELOAD_COMMAND", "systemctl reload onebox.service"))
    )
    if not command:
        raise SettingsError("APP_AGENT_RELOAD_COMMAND='': must name a command")
    keep = _positive(environ, "APP_AGENT_KEEP", "5")
    if keep < 2 or keep != int(keep):
        raise SettingsError(f"APP_AGENT_KEEP={keep!r}: must be a whole number of at least 2")
    return AgentSettings(
        parameter=_required(environ, "APP_RELEASE_PARAMETER"),
        bucket=_required(environ, "APP_BACKUP_BUCKET"),
        root=Path(environ.get("APP_RELEASES_ROOT", "/opt/onebox")),
        url=_service_url(environ),
        reload_command=command,
        check_seconds=_positive(environ, "APP_AGENT_CHECK_SECONDS", "60"),
        keep=int(keep),
    )
