"""The APP_* environment contract: every setting a process on the box reads (the web service,
the backup job, the metrics publisher and the deploy agent), its default and its meaning.

The table is `service/settings.toml` (data, read once here); docs/configuration.md's table is
tested against it. Values are parsed and validated here, so a bad value stops the process at
start-up with a message that names the variable and the value, instead of failing on the first
request.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from service import contract, values
from service.values import ConfigError, Setting

__all__ = ["SETTINGS", "ConfigError", "Setting", "defaults", "from_environ"]

TABLE = Path(__file__).resolve().parent / "settings.toml"
# The facts a default may name as {NAME}: stated once, in service/contract.py.
FACTS = {
    "BACKUP_PREFIX": contract.BACKUP_PREFIX,
    "BOX_ROOT": contract.BOX_ROOT,
    "ENV_FILE": contract.ENV_FILE,
    "LOCAL_NAMESPACE": contract.metrics_namespace("local"),
    "RELOAD_REQUEST": contract.RELOAD_REQUEST,
    "RESTART_REQUEST": contract.RESTART_REQUEST,
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
            raise ConfigError(f"{setting.env}={raw!r}: {exc}") from None
    return parsed


def defaults() -> dict[str, Any]:
    """Every setting at its default value."""
    return from_environ({})
