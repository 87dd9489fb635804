"""What a backup refuses: a database file that is missing, or not the one last backed up or
restored here, and an empty database over a newest backup that holds rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from service.backup import s3 as bucket_io
from service.backup import snapshot, state


class Refused(Exception):
    """The command will not do what was asked, for a reason it names (exit code 1)."""


def database_file(database: Path, identity: str) -> dict[str, str]:
    return {"databasePath": str(database.resolve()), "databaseFile": identity}


def same_database(database: Path, state_file: Path) -> str:
    """The database file's identity; refuse a file that is missing, or not the one last backed
    up or restored here (deleted and recreated, or replaced, under the service)."""
    if not database.is_file():
        raise Refused(
            f"database {str(database)!r} is missing (deleted under the service?); nothing is "
            "uploaded. Stop onebox.service and restore the newest backup (restore --force)"
        )
    current = snapshot.file_identity(database)
    record = state.read(state_file) or {}
    known = record.get("databaseFile")
    if record.get("databasePath") == str(database.resolve()) and known not in (None, current):
        raise Refused(
            f"database {str(database)!r} is not the file last backed up or restored "
            f"(device:inode {known}, now {current}): it was replaced under the service. Restore "
            f"the newest backup (restore --force), or delete {str(state_file)!r} to keep this file"
        )
    return current


def not_blank(
    s3: Any,
    bucket: str,
    database: Path,
    stored: list[bucket_io.StoredBackup],
    rows: dict[str, int],
) -> None:
    """Refuse to make an empty database the newest backup when the newest one holds rows."""
    if sum(rows.values()) or not stored:
        return
    recorded = bucket_io.metadata(s3, bucket, stored[0].key).get("rows", "")
    if any(count not in ("", "0") for count in _counts(recorded)):
        raise Refused(
            f"database {str(database)!r} is empty but the newest backup {stored[0].key} "
            f"holds rows ({recorded}): not uploading it over them. Restore the newest backup"
        )


def _counts(recorded: str) -> list[str]:
    return [item.partition("=")[2] for item in recorded.split(",") if item]
