"""The four backup commands, as functions of typed settings; `__main__` maps them to a CLI.

Each returns a JSON-able result that is also logged as one event line. Failures raise, and
`__main__` turns them into exit code 1 and one JSON error line.
"""

from __future__ import annotations

import logging
import socket
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service import contract, logs
from service.backup import keys, restore, snapshot, state
from service.backup import s3 as bucket_io
from service.backup.guards import Refused, database_file, not_blank, same_database
from service.backup.lock import exclusive
from service.backup.s3 import VerifyError


@dataclass(frozen=True)
class Settings:
    """Everything the commands need, already parsed (see service.config for the variables)."""

    database: Path
    bucket: str
    prefix: str = contract.BACKUP_PREFIX
    keep: int = 7
    days: int = 7
    state_file: str = ""
    restore_bucket: str = ""
    textfile: str = ""  # node_exporter textfile for the last success time; "": not written

    @property
    def state(self) -> Path:
        return state.state_path(self.state_file, str(self.database))


def backup(cfg: Settings, now: datetime | None = None, host: str | None = None) -> dict[str, Any]:
    """Snapshot, check, compress and upload the database (skipped when unchanged), then retain."""
    s3 = bucket_io.client("s3")
    now = now or datetime.now(UTC)
    host = host or socket.gethostname()
    with exclusive(cfg.database.parent / ".backup.lock"), _workdir(cfg.database) as work:
        raw, packed = Path(work, "snapshot.sqlite"), Path(work, "snapshot.sqlite.gz")
        identity = same_database(cfg.database, cfg.state)
        snapshot.take(cfg.database, raw)
        if same_database(cfg.database, cfg.state) != identity:
            raise Refused(f"{str(cfg.database)!r} was replaced during the snapshot")
        rows = snapshot.inspect(raw)
        digest = snapshot.compress(raw, packed)
        stored = bucket_io.listing(s3, cfg.bucket, cfg.prefix)
        not_blank(s3, cfg.bucket, cfg.database, stored, rows)
        key = _unchanged(s3, cfg.bucket, stored, digest)
        skipped = key is not None
        if key is None:
            key = keys.make_key(cfg.prefix, now, host)
            meta = _metadata(digest, rows, host)
            bucket_io.upload(s3, cfg.bucket, key, packed, digest.gz_sha256, meta)
            stored.insert(0, bucket_io.StoredBackup(key, now, digest.gz_bytes))
    deleted = keys.to_delete(
        [keys.BackupKey(b.time, b.key) for b in stored], now, cfg.keep, cfg.days
    )
    bucket_io.delete(s3, cfg.bucket, deleted)
    result = {
        "event": "backup_skipped" if skipped else "backup_done",
        "key": key,
        "rawSha256": digest.raw_sha256,
        "gzSha256": digest.gz_sha256,
        "rawBytes": digest.raw_bytes,
        "gzBytes": digest.gz_bytes,
        "rows": rows,
        "deleted": deleted,
        **database_file(cfg.database, identity),  # kept in the state: the next run compares
    }
    succeeded = time.time()
    if cfg.textfile:
        result.update(_write_metric(Path(cfg.textfile), succeeded))
    state.write(cfg.state, {**result, "lastSuccessEpoch": succeeded, "bucket": cfg.bucket})
    return result


def _write_metric(path: Path, succeeded: float) -> dict[str, str]:
    """Write the textfile; a failure is reported in the result, not raised: the backup itself
    is in S3, and the Prometheus rules raise the missing or stale time on their own."""
    try:
        state.write_metric(path, succeeded)
    except OSError as exc:
        return {"textfileError": f"{path}: {exc}"}
    return {"textfile": str(path)}


def _unchanged(
    s3: Any, bucket: str, stored: list[bucket_io.StoredBackup], digest: snapshot.Digest
) -> str | None:
    """The newest backup's key when it holds exactly these bytes (the content hash matches)."""
    if not stored:
        return None
    newest = stored[0].key
    same = bucket_io.metadata(s3, bucket, newest).get("raw-sha256") == digest.raw_sha256
    return newest if same else None


def _metadata(digest: snapshot.Digest, rows: dict[str, int], host: str) -> dict[str, str]:
    return {
        "raw-sha256": digest.raw_sha256,
        "gz-sha256": digest.gz_sha256,
        "raw-bytes": str(digest.raw_bytes),
        "rows": restore.format_rows(rows),
        "source-host": keys.host_label(host),
    }


def _workdir(database: Path) -> tempfile.TemporaryDirectory[str]:
    # Beside the database, not /tmp: on the box /tmp is RAM (tmpfs) and the rename is atomic.
    database.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=".backup-", dir=database.parent)


def choose(s3: Any, bucket: str, prefix: str, key: str | None) -> str | None:
    """`key` when given, else the newest backup's key; None when the bucket holds none."""
    if key:
        return key
    stored = bucket_io.listing(s3, bucket, prefix)
    return stored[0].key if stored else None


def _source(s3: Any, cfg: Settings, key: str | None) -> tuple[str, list[str]]:
    """The bucket to restore from and its candidate backups, newest first (empty: none).

    The stack's own bucket comes first and APP_RESTORE_BUCKET only when the own bucket has no
    backup: once the new stack has backed up, its own backups are newer than anything in the
    bucket it first restored from, and a later first boot (a replacement, a resume) reading the
    old bucket again would silently go back in time.
    """
    buckets = [b for b in dict.fromkeys([cfg.bucket, cfg.restore_bucket]) if b]
    for bucket in buckets:
        stored = [backup.key for backup in bucket_io.listing(s3, bucket, cfg.prefix)]
        if stored and (key is None or key in stored):
            return bucket, [key] if key else stored
    return ", ".join(buckets), []


def _newest_that_verifies(
    s3: Any, bucket: str, candidates: list[str], workdir: Path
) -> tuple[str, restore.Verified, list[str]]:
    """The newest candidate that passes every check; each refusal is logged and skipped.

    A damaged or forged newest backup must not keep a new box from booting on the one before.
    """
    refused: list[str] = []
    for key in candidates:
        try:
            return key, restore.fetch_verified(s3, bucket, key, workdir), refused
        except (VerifyError, snapshot.SnapshotError) as exc:
            refused.append(key)
            logs.log_event(
                "restore_refused",
                logging.WARNING,
                key=key,
                bucket=bucket,
                error=type(exc).__name__,
                reason=str(exc),
            )
    raise Refused(
        f"none of the {len(candidates)} backups under s3://{bucket}/ verifies (each refusal is "
        "logged as restore_refused); not starting on an empty database"
    )


def restore_database(
    cfg: Settings, key: str | None = None, force: bool = False, if_missing: bool = False
) -> dict[str, Any]:
    """Replace the database with a verified backup (newest unless `key`).

    `if_missing` is the first-boot mode: an existing non-empty database (a reboot) is kept, and
    an empty bucket means a fresh database; both succeed. Otherwise an existing non-empty
    database is only replaced with `force`.
    """
    if restore.has_data(cfg.database) and not force:
        if if_missing:
            return {"event": "restore_skipped", "reason": "database exists (not a first boot)"}
        raise Refused(f"{str(cfg.database)!r} exists and is not empty; pass --force to replace it")
    s3 = bucket_io.client("s3")
    bucket, candidates = _source(s3, cfg, key)
    if not candidates:
        if if_missing and key is None:
            return {"event": "restore_skipped", "reason": f"no backup in s3://{bucket}"}
        missing = f"{key} is not" if key else "no backup is"
        raise Refused(f"{missing} under s3://{bucket}/{cfg.prefix}/")
    cfg.database.parent.mkdir(parents=True, exist_ok=True)
    refused: list[str] = []
    with exclusive(cfg.database.parent / ".backup.lock"):
        if if_missing and key is None:  # first boot: walk down to the newest sound backup
            chosen, verified, refused = _newest_that_verifies(
                s3, bucket, candidates, cfg.database.parent
            )
        else:  # an operator's restore: the backup asked for, or a refusal that says why
            chosen = candidates[0]
            verified = restore.fetch_verified(s3, bucket, chosen, cfg.database.parent)
        try:
            restore.install(verified.path, cfg.database)
        finally:
            verified.path.unlink(missing_ok=True)
        _remember(cfg)
    return {
        "event": "restore_done",
        "key": chosen,
        "rows": verified.rows,
        "bucket": bucket,
        "refused": refused,
    }


def _remember(cfg: Settings) -> None:
    """Record the restored file as the database the next backup expects (see guards.same_database).

    A record of another database (a drill restoring into a scratch file) is left alone.
    """
    record = state.read(cfg.state) or {}
    if record.get("databasePath") not in (None, str(cfg.database.resolve())):
        return
    identity = snapshot.file_identity(cfg.database)
    state.write(cfg.state, {**record, **database_file(cfg.database, identity)})


def verify(cfg: Settings, key: str | None = None) -> dict[str, Any]:
    """Download and check one backup (newest unless `key`) without touching the database."""
    s3 = bucket_io.client("s3")
    chosen = choose(s3, cfg.bucket, cfg.prefix, key)
    if chosen is None:
        raise Refused(f"no backup under s3://{cfg.bucket}/{cfg.prefix}/")
    # A scratch directory of its own (TMPDIR), never beside the live database.
    with tempfile.TemporaryDirectory(prefix="onebox-verify-") as work:
        verified = restore.fetch_verified(s3, cfg.bucket, chosen, Path(work))
    return {"event": "verify_done", "key": chosen, "rows": verified.rows}


def listing(cfg: Settings, now: datetime | None = None) -> list[dict[str, Any]]:
    """The backups, newest first, with their size and age."""
    now = now or datetime.now(UTC)
    stored = bucket_io.listing(bucket_io.client("s3"), cfg.bucket, cfg.prefix)
    return [
        {
            "time": b.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "bytes": b.size,
            "ageSeconds": int((now - b.time).total_seconds()),
            "key": b.key,
        }
        for b in stored
    ]


__all__ = ["Refused", "Settings", "VerifyError", "backup", "listing", "restore_database", "verify"]
