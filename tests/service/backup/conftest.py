"""Fixtures for the backup tests: moto_server on 127.0.0.1, a fresh bucket, a database with rows.

One moto_server serves the whole package; each test gets its own bucket, so tests never see
each other's objects.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

import boto3
import pytest

from service import contract
from service.backup import commands
from service.db import SqliteStore
from tests.support import ROOT


@pytest.fixture
def s3(aws_env: dict[str, str]) -> Any:
    return boto3.client("s3")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"onebox-test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def fill(path: Path, users: int, start: int = 0) -> None:
    """Write `users` user states (u00000, u00001...) through the service's own store."""
    store = SqliteStore(str(path))
    try:
        store.migrate()
        for number in range(start, start + users):
            store.update_state(f"u{number:05d}", {"isMuted": number % 2 == 0}, "2026-11-23T10:00Z")
    finally:
        store.close()


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "live" / "onebox.db"
    fill(path, 50)
    return path


@pytest.fixture
def settings(database: Path, bucket: str) -> commands.Settings:
    return commands.Settings(database=database, bucket=bucket, prefix=contract.BACKUP_PREFIX)


def run_cli(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m service.backup ARGS` in a child process with exactly `env` added."""
    return subprocess.run(
        [sys.executable, "-m", "service.backup", *args],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in primary-key order."""
    with closing(sqlite3.connect(path)) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        query = 'SELECT * FROM "{}" ORDER BY 1'
        return {t: conn.execute(query.format(t)).fetchall() for t in tables}


def rewrite(s3: Any, bucket: str, key: str, change: Any) -> None:
    """Replace an object's bytes with change(bytes), keeping its metadata (a tamperer's move)."""
    head = s3.head_object(Bucket=bucket, Key=key)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=bucket, Key=key, Body=change(body), Metadata=head["Metadata"])


@pytest.fixture
def backed_up(settings: commands.Settings) -> str:
    """The key of a backup of the 50-user database."""
    key: str = commands.backup(settings)["key"]
    return key


def leftovers(directory: Path) -> list[str]:
    """Temporary files a restore left behind."""
    return [p.name for p in directory.iterdir() if p.name.startswith(".restore-")]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def other(tmp_path: Path) -> Path:
    """A different, non-empty database that a bad restore must leave exactly as it is."""
    path = tmp_path / "other" / "onebox.db"
    fill(path, 3, start=900)
    return path
