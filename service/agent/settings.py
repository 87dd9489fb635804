"""The deploy agent's typed view of the APP_* contract (`service.config.SETTINGS`).

The values are parsed there, with every other process's; this view adds what only the agent
needs: the release parameter and the bucket are required, and the service's URL falls back to
the origin of APP_METRICS_URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from service.config import SETTINGS, ConfigError, defaults
from service.contract import ENV_FILE

_ENV_NAMES = {setting.key: setting.env for setting in SETTINGS}


@dataclass(frozen=True)
class WatchSettings:
    """After a deploy goes ready: how long and how often to watch it, and what a regression is
    (service.config's comment above APP_AGENT_WATCH_SECONDS says why these)."""

    seconds: float  # 0: not watched
    interval: float
    baseline_seconds: float
    min_requests: int
    factor: float
    slo_error_pct: float
    slo_p95_ms: float

    @staticmethod
    def from_config(values: Mapping[str, Any]) -> WatchSettings:
        return WatchSettings(
            seconds=float(values["AGENT_WATCH_SECONDS"]),
            interval=float(values["AGENT_WATCH_INTERVAL_SECONDS"]),
            baseline_seconds=float(values["AGENT_BASELINE_SECONDS"]),
            min_requests=int(values["AGENT_WATCH_MIN_REQUESTS"]),
            factor=float(values["AGENT_REGRESSION_FACTOR"]),
            slo_error_pct=float(values["SLO_ERROR_RATE_PCT"]),
            slo_p95_ms=float(values["SLO_P95_MS"]),
        )


@dataclass(frozen=True)
class AgentSettings:
    parameter: str
    bucket: str
    root: Path
    url: str
    reload_command: tuple[str, ...]
    check_seconds: float
    keep: int
    settings_parameter: str = ""  # empty: the env file is left as it is
    env_file: Path = Path(ENV_FILE)
    restart_command: tuple[str, ...] = ()
    # Built by hand (tests): the defaults, not watched.
    watch: WatchSettings = field(
        default_factory=lambda: replace(WatchSettings.from_config(defaults()), seconds=0.0)
    )

    @staticmethod
    def from_config(values: Mapping[str, Any]) -> AgentSettings:
        """The agent's settings from `config.from_environ`'s values; ConfigError names a
        required variable that is empty."""
        return AgentSettings(
            parameter=_required(values, "RELEASE_PARAMETER"),
            bucket=_required(values, "BACKUP_BUCKET"),
            root=Path(values["RELEASES_ROOT"]),
            url=_service_url(values["AGENT_URL"], values["METRICS_URL"]),
            reload_command=tuple(values["AGENT_RELOAD_COMMAND"]),
            check_seconds=float(values["AGENT_CHECK_SECONDS"]),
            keep=int(values["AGENT_KEEP"]),
            settings_parameter=str(values["SETTINGS_PARAMETER"]),
            env_file=Path(values["AGENT_ENV_FILE"]),
            restart_command=tuple(values["AGENT_RESTART_COMMAND"]),
            watch=WatchSettings.from_config(values),
        )


def _required(values: Mapping[str, Any], key: str) -> str:
    value = str(values[key])
    if not value:
        raise ConfigError(f"{_ENV_NAMES[key]} is not set (it comes from {ENV_FILE})")
    return value


def _service_url(explicit: str, metrics_url: str) -> str:
    if explicit:
        return explicit.rstrip("/")
    metrics = urlsplit(metrics_url)
    if metrics.scheme and metrics.netloc:
        return f"{metrics.scheme}://{metrics.netloc}"
    return "http://127.0.0.1"
