"""The APP_* environment contract: every setting a process on the box reads (the web service,
the backup job, the metrics publisher and the deploy agent), its default and its meaning.

The table is `service/settings.toml` (data, read once here); docs/configuration.md's table is
tested against it. Values are parsed and validated here, so a bad value stops the process at
start-up with a message that names the variable and the value, instead of failing on the first
request.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from service import contract, values
from service.values import ConfigError, Setting

__all__ = [
    "SETTINGS",
    "ConfigError",
    "Setting",
    "defaults",
    "env_file_text",
    "from_environ",
    "parse_env_file",
]

TABLE = Path(__file__).resolve().parent / "settings.toml"
# The facts a default may name as {NAME}: stated once, in service/contract.py.
FACTS = {
    "BACKUP_PREFIX": contract.BACKUP_PREFIX,
    "BOX_ROOT": contract.BOX_ROOT,
    "ENV_FILE": contract.ENV_FILE,
    "LOCAL_NAMESPACE": contract.metrics_namespace("local"),
    "RELOAD_REQUEST": contract.RELOAD_REQUEST,
    "RESTART_REQUEST": contract.RESTART_REQUEST,
    "SLO_AVAILABILITY_PCT": str(contract.SLO_AVAILABILITY_PCT),
}


def _load(path: Path) -> tuple[Setting, ...]:
    """The table's rows in file order; a row naming an unknown parser or fact fails loudly."""
    with path.open("rb") as file:
        table = tomllib.load(file)
    rows = []
    for env, row in table.items():
        parse = getattr(values, row["parse"], None)
        if not callable(parse):
            raise ConfigError(f"{path.name}: {env}: parse={row['parse']!r} is not a parser")
        try:
            default = row["default"].format_map(FACTS)
        except KeyError as exc:
            raise ConfigError(f"{path.name}: {env}: default names no fact {exc}") from None
        rows.append(Setting(env, row["key"], default, parse, row["doc"]))
    return tuple(rows)


SETTINGS: tuple[Setting, ...] = _load(TABLE)


def from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    """Parse every setting from `environ`, falling back to its default."""
    parsed: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env, setting.default)
        try:
            parsed[setting.key] = setting.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{setting.env}={_shown(raw)!r}: {exc}") from None
    return parsed


def _shown(raw: str) -> str:
    """`raw` as an error may print it: a URL's password (postgresql://u:pw@host) masked."""
    scheme, sep, rest = raw.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not (sep and at and ":" in userinfo):
        return raw
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"


def defaults() -> dict[str, Any]:
    """Every setting at its default value."""
    return from_environ({})


# -- the env file's format (contract.ENV_FILE, the settings parameter, the bootstrap's) ----------
# NAME=value, or NAME="value" where a value holds spaces or `*` (a systemd calendar spec). What
# systemd's EnvironmentFile=, bash and the local box read alike; nothing ever needs escaping.
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_ENV_PLAIN = re.compile(r"[A-Za-z0-9_./:@+=,-]*")
_ENV_QUOTED = re.compile(r"[A-Za-z0-9_./:@+=,* -]*")
_ENV_LINE = re.compile(r'([A-Z][A-Z0-9_]*)=(?:"([A-Za-z0-9_./:@+=,* -]*)"|([A-Za-z0-9_./:@+=,-]*))')


def env_file_text(values: Mapping[str, str]) -> str:
    """The env file's text; refuses a name or a value the format cannot carry, naming it."""
    lines = []
    for name, value in values.items():
        if not _ENV_NAME.fullmatch(name):
            raise ValueError(f"environment: {name!r} is not a valid variable name")
        if _ENV_PLAIN.fullmatch(value):
            lines.append(f"{name}={value}")
        elif _ENV_QUOTED.fullmatch(value):
            lines.append(f'{name}="{value}"')
        else:
            raise ValueError(f"environment: {name}={value!r} has characters the env file refuses")
    return "\n".join(lines) + "\n"


def parse_env_file(text: str) -> dict[str, str]:
    """NAME=value lines (blank lines and # comments skipped); ValueError names a bad line."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        found = _ENV_LINE.fullmatch(stripped)
        if found is None:
            raise ValueError(f"env file: {stripped[:80]!r} is not NAME=value")
        values[found.group(1)] = found.group(2) if found.group(2) is not None else found.group(3)
    return values
