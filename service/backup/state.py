"""The local records of the last successful backup: a JSON file the metrics publisher reads,
and a Prometheus textfile for node_exporter's textfile collector.

Both are replaced atomically, so the publisher can report the backup's age every minute without
an S3 call, node_exporter serves the time to the Prometheus rules, and neither ever reads a
half-written file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

from service.contract import PROM_BACKUP_LAST_SUCCESS

STATE_NAME = "backup-state.json"


def state_path(configured: str, database: str) -> Path:
    """APP_BACKUP_STATE when set, else backup-state.json beside the database."""
    return Path(configured) if configured else Path(database).parent / STATE_NAME


def write(path: Path, record: dict[str, Any]) -> None:
    """Replace the state file with `record` (temporary file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".backup-state-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(record, out, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read(path: Path) -> dict[str, Any] | None:
    """The last record, or None when there is none or it cannot be read as JSON."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def last_success(path: Path) -> float | None:
    """Epoch seconds of the last successful backup (or skip: it proves S3 has the data)."""
    record = read(path)
    value = None if record is None else record.get("lastSuccessEpoch")
    return float(value) if isinstance(value, int | float) else None


def write_metric(path: Path, epoch: float) -> None:
    """Replace the textfile `path` (*.prom) with the one gauge PROM_BACKUP_LAST_SUCCESS=`epoch`.

    prometheus_client writes a temporary file beside it and renames it over, so the collector
    never serves a partial file.
    """
    registry = CollectorRegistry()
    last = Gauge(
        PROM_BACKUP_LAST_SUCCESS,
        "Unix time of the last successful onebox backup (or skip: S3 already had the data).",
        registry=registry,
    )
    last.set(epoch)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)
    # node_exporter runs as its own user; the backup units' UMask=0077 would hide the file.
    path.chmod(0o644)
