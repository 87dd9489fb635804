"""Backup key names and the retention rule: pure functions of plain values, no AWS.

A key is `<prefix>/<UTC timestamp>-<host>.sqlite.gz` with the timestamp as 20261123T101500Z, so
keys sort by time. Keys that do not have this shape are never ours to delete.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SUFFIX = ".sqlite.gz"
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_KEY = re.compile(r"(?P<stamp>\d{8}T\d{6}Z)-(?P<host>[A-Za-z0-9.-]+)" + re.escape(SUFFIX))
_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


@dataclass(frozen=True, order=True)
class BackupKey:
    """A backup object: when it was taken (from its name) and its full key."""

    time: datetime
    key: str


def host_label(hostname: str) -> str:
    """The host name as it may appear in a key (letters, digits, dots and dashes only)."""
    label = _UNSAFE.sub("-", hostname).strip("-.")
    return label or "host"


def make_key(prefix: str, moment: datetime, hostname: str) -> str:
    """The key of a backup taken at `moment` (aware, any zone) on `hostname`."""
    if moment.tzinfo is None:
        raise ValueError(f"backup time {moment!r} has no time zone")
    stamp = moment.astimezone(UTC).strftime(STAMP_FORMAT)
    return f"{prefix.strip('/')}/{stamp}-{host_label(hostname)}{SUFFIX}"


def parse_key(key: str) -> BackupKey | None:
    """The backup a key names, or None when the key is not a backup key."""
    match = _KEY.fullmatch(key.rpartition("/")[2])
    if match is None:
        return None
    moment = datetime.strptime(match["stamp"], STAMP_FORMAT).replace(tzinfo=UTC)
    return BackupKey(time=moment, key=key)


def backups(keys: Iterable[str]) -> list[BackupKey]:
    """The backup keys among `keys`, newest first (other keys are dropped)."""
    parsed = [b for b in (parse_key(k) for k in keys) if b is not None]
    return sorted(parsed, reverse=True)


def to_delete(items: Iterable[BackupKey], now: datetime, keep: int, days: int) -> list[str]:
    """Keys that retention removes: older than `days` AND not among the newest `keep`.

    Keeping the newest `keep` whatever their age means a stack stopped for a month still has
    its last backups; an S3 expiration rule alone would have deleted the last copy.
    """
    if keep < 1:
        raise ValueError(f"keep={keep!r}: at least one backup must always be kept")
    if days < 0:
        raise ValueError(f"days={days!r}: the retention window cannot be negative")
    cutoff = now - timedelta(days=days)
    ordered = sorted(items, reverse=True)
    return [item.key for item in ordered[keep:] if item.time < cutoff]
