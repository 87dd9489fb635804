"""A full disk under PostgreSQL: the write is a JSON 507, nothing is half-written, reads and
health keep working. The users' table is moved onto a tablespace on a tiny tmpfs that fills up
for real, so the server itself answers "could not extend file" (SQLSTATE 53100, disk full)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from service.web import create_app, shutdown


@contextmanager
def tiny_disk(size: str = "256k") -> Iterator[Path]:
    """A tmpfs of `size`, mounted on a new folder the `postgres` user owns when we are root."""
    folder = Path(tempfile.mkdtemp(prefix="onebox-tiny-"))
    folder.chmod(0o755)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(folder, owner.pw_uid, owner.pw_gid)
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True, timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def run(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement.encode())


def test_a_full_disk_is_a_json_507_reads_keep_working_and_nothing_is_half_written(
    postgres_url: str,
) -> None:
    app = create_app({"DATABASE_URL": postgres_url, "ENV": "test"})
    client = app.test_client()
    client.patch("/api/users/kept/mute", json={"isMuted": True})
    space = f"tiny_{uuid.uuid4().hex[:12]}"
    with tiny_disk() as disk:
        run(postgres_url, f"CREATE TABLESPACE {space} LOCATION '{disk}'")
        run(postgres_url, f"ALTER TABLE user_states SET TABLESPACE {space}")
        try:
            statuses = []
            for n in range(5000):  # bounded: 256 KiB of 250-character labels fill far sooner
                response = client.post(f"/api/users/u{n}/state", json={"deviceLabel": "x" * 250})
                statuses.append(response.status_code)
                if response.status_code != 200:
                    break
            assert statuses[-1] == 507, statuses[-3:]
            assert response.get_json()["error"] == "insufficient_storage"
            assert client.get(f"/api/users/u{n}/state").status_code == 404
            assert client.get("/api/users/kept/state").get_json()["isMuted"] is True
            assert client.get("/api/health/ready").status_code == 200
        finally:
            shutdown.close(app)
            run(postgres_url, "ALTER TABLE user_states SET TABLESPACE pg_default")
            run(postgres_url, f"DROP TABLESPACE {space}")
