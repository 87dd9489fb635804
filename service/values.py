"""How an APP_* value is parsed: each parser takes the raw string and returns the typed value,
or raises ValueError saying what it expects (service.config names the variable and the value)."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

ENVIRONMENTS = ("production", "development", "test")


class ConfigError(ValueError):
    """A setting in the environment is malformed; the message names it and its value."""


def positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive whole number")
    return value


def positive_number(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError("must be a positive number")
    return value


def non_negative_number(raw: str) -> float:
    value = float(raw)
    if not value >= 0:
        raise ValueError("must be a number, 0 or more")
    return value


def keep(raw: str) -> int:
    value = int(raw)
    if value < 2:
        raise ValueError("must be a whole number of at least 2 (the current and the previous)")
    return value


def command(raw: str) -> tuple[str, ...]:
    argv = tuple(shlex.split(raw))
    if not argv:
        raise ValueError("must name a command")
    return argv


def percent(raw: str) -> float:
    value = float(raw)
    if not 0 < value <= 100:
        raise ValueError("must be a percentage in (0, 100]")
    return value


def environment(raw: str) -> str:
    if raw not in ENVIRONMENTS:
        raise ValueError(f"must be one of {', '.join(ENVIRONMENTS)}")
    return raw


def csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in {"true", "false"}:
        raise ValueError("must be true or false")
    return value == "true"


def text(raw: str) -> str:
    return raw.strip()


def http_url(raw: str) -> str:
    """An http(s) URL with a host, without its trailing slash; empty stays empty (off)."""
    value = raw.strip().rstrip("/")
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host, or empty")
    return value


def postgres_url(raw: str) -> str:
    """A postgresql:// URL naming a host and a database; empty stays empty (SQLite)."""
    value = raw.strip()
    if not value:
        return ""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (parsing the port raises on a bad one)
    except ValueError as exc:
        raise ValueError(f"must be a postgresql:// URL, or empty ({exc})") from None
    if parts.scheme not in {"postgresql", "postgres"}:
        raise ValueError("must be a postgresql://user@host:port/database URL, or empty")
    if not parts.hostname or not parts.path.strip("/"):
        raise ValueError("must name a host and a database: postgresql://user@host:port/database")
    return value


def ratio(raw: str) -> float:
    value = float(raw)
    if not 0 <= value <= 1:
        raise ValueError("must be a number from 0 to 1")
    return value


@dataclass(frozen=True)
class Setting:
    env: str
    key: str
    default: str
    parse: Callable[[str], Any]
    doc: str
