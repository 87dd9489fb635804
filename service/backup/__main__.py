"""`python -m service.backup {backup,restore,list,verify,to-postgres,from-postgres}`: exit 0 ok,
1 failed, 2 usage.

to-postgres and from-postgres move the data between the single box's SQLite backups and the
PostgreSQL of topology ha (service/backup/moves.py; docs/backups.md says when to run them).

Settings come from the APP_* environment (service.config) and can be overridden by flags. A
failure prints one JSON line on stdout saying why (journald keeps it), never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from service import config, logs
from service.backup import commands
from service.backup.lock import LockTimeout
from service.backup.restore import DatabaseBusy
from service.backup.s3 import VerifyError
from service.backup.snapshot import SnapshotError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
MOVES = ("to-postgres", "from-postgres")
FAILURES = (
    commands.Refused,
    VerifyError,
    SnapshotError,
    DatabaseBusy,
    LockTimeout,
    BotoCoreError,
    ClientError,
    OSError,
)


def parser() -> argparse.ArgumentParser:
    """The command line: one sub-command each for backup, restore, list and verify."""
    top = argparse.ArgumentParser(prog="python -m service.backup", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    for name, text in (
        ("backup", "snapshot the database to S3 (skipped when unchanged), then apply retention"),
        ("restore", "replace the database with a verified backup"),
        ("list", "print the backups, newest first"),
        ("verify", "download and check a backup without restoring it"),
        ("to-postgres", "load a verified backup (the newest unless --key) into PostgreSQL"),
        ("from-postgres", "write PostgreSQL into a new, verified backup: the newest"),
    ):
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.add_argument("--database", help="SQLite file (default: APP_DATABASE)")
        cmd.add_argument("--bucket", help="S3 bucket (default: APP_BACKUP_BUCKET)")
        cmd.add_argument("--prefix", help="key prefix (default: APP_BACKUP_PREFIX)")
        if name in ("restore", "verify", "to-postgres"):
            cmd.add_argument("--key", help="this backup instead of the newest")
        if name in MOVES:
            cmd.add_argument("--database-url", help="PostgreSQL (default: APP_DATABASE_URL)")
    sub.choices["to-postgres"].add_argument(
        "--force", action="store_true", help="replace the rows a non-empty database holds"
    )
    restore = sub.choices["restore"]
    restore.add_argument("--force", action="store_true", help="replace a non-empty database")
    restore.add_argument(
        "--if-missing",
        action="store_true",
        help="first boot: keep an existing database; an empty bucket means a fresh one",
    )
    return top


class NoBucket(config.ConfigError):
    """No bucket is configured: backups are off on this box."""


def settings(args: argparse.Namespace, environ: dict[str, str]) -> commands.Settings:
    """Typed settings from the environment, with the flags taking precedence."""
    values = config.from_environ(environ)
    bucket = args.bucket or values["BACKUP_BUCKET"]
    restore_bucket = args.bucket or values["RESTORE_BUCKET"]
    if not (bucket or (args.command == "restore" and restore_bucket)):
        raise NoBucket("APP_BACKUP_BUCKET='': no bucket (set it or pass --bucket)")
    return commands.Settings(
        database=Path(args.database or values["DATABASE"]),
        bucket=bucket,
        prefix=(args.prefix or values["BACKUP_PREFIX"]).strip("/"),
        keep=values["BACKUP_KEEP"],
        days=values["BACKUP_RETENTION_DAYS"],
        state_file=values["BACKUP_STATE"],
        restore_bucket=restore_bucket,
        textfile=values["BACKUP_TEXTFILE"],
    )


def database_url(args: argparse.Namespace, environ: dict[str, str]) -> str:
    """The PostgreSQL a move reads or writes: --database-url, else APP_DATABASE_URL."""
    if args.database_url:  # parsed as the setting is: a malformed URL is refused the same way
        environ = {**environ, "APP_DATABASE_URL": args.database_url}
    url: str = config.from_environ(environ)["DATABASE_URL"]
    if not url:
        raise config.ConfigError("APP_DATABASE_URL='': no PostgreSQL (set it or --database-url)")
    return url


def run(args: argparse.Namespace, cfg: commands.Settings, environ: dict[str, str]) -> Any:
    if args.command in MOVES:
        from service.backup import moves  # only here: the other commands never load psycopg

        url = database_url(args, environ)
        if args.command == "to-postgres":
            return moves.to_postgres(cfg, url, logs.log_event, args.key, args.force)
        return moves.from_postgres(cfg, url, logs.log_event)
    if args.command == "backup":
        return commands.backup(cfg)
    if args.command == "restore":
        return commands.restore_database(cfg, args.key, args.force, args.if_missing)
    if args.command == "verify":
        return commands.verify(cfg, args.key)
    return commands.listing(cfg)


def main(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None) -> int:
    """Run one command; the process exit code."""
    logs.configure()
    args = parser().parse_args(argv)  # exits 2 on bad usage
    environ = dict(os.environ if environ is None else environ)
    try:
        cfg = settings(args, environ)
        if args.command in MOVES:
            database_url(args, environ)  # a missing or malformed URL is a usage error
    except NoBucket as exc:
        if args.command == "restore" and args.if_missing:  # backups are off: a fresh database
            logs.log_event("restore_skipped", reason=str(exc))
            return EXIT_OK
        logs.log_event("backup_usage", logging.ERROR, command=args.command, error=str(exc))
        return EXIT_USAGE
    except config.ConfigError as exc:
        logs.log_event("backup_usage", logging.ERROR, command=args.command, error=str(exc))
        return EXIT_USAGE
    try:
        result = run(args, cfg, environ)
    except FAILURES as exc:
        logs.log_event(
            f"{args.command}_failed",
            logging.ERROR,
            error=type(exc).__name__,
            errorMessage=str(exc),
            bucket=cfg.bucket,
            database=str(cfg.database),
        )
        return EXIT_FAILED
    if args.command == "list":
        _print_table(result)
    else:
        logs.log_event(result.pop("event"), **result)
    return EXIT_OK


def _print_table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        print("no backups")
    for row in rows:
        line = f"{row['time']}  {row['bytes']:>12,d} B  {_age(row['ageSeconds']):>10}  {row['key']}"
        print(line)
    sys.stdout.flush()


def _age(seconds: int) -> str:
    days, rest = divmod(max(seconds, 0), 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days}d {hours}h" if days else f"{hours}h {rest // 60}m"


if __name__ == "__main__":
    sys.exit(main())
