"""Checks a download must pass before it counts as a backup: inflation capped at the recorded raw
size (a decompression bomb writes no more than that), a schema this code knows, and `verify`
working in a scratch directory of its own, never beside the live database."""

from __future__ import annotations

import gzip
import os
import sqlite3
import zlib
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from service.backup import commands, restore, snapshot
from service.backup.s3 import VerifyError
from tests.service.backup.test_restore import dump, leftovers

BOMB_RAW_BYTES = 64 * 1024 * 1024  # zeros: about 64 KB of gzip


def bomb() -> bytes:
    """A small gzip object that inflates to BOMB_RAW_BYTES (a valid stream, not a broken one)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1024 * 1024)
    return b"".join(packer.compress(zeros) for _ in range(64)) + packer.flush()


def names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def pieces(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.fixture
def backed_up(settings: commands.Settings) -> str:
    key: str = commands.backup(settings)["key"]
    return key


def plant(s3: Any, settings: commands.Settings, body: bytes, meta: dict[str, str]) -> str:
    """Put `body` with `meta` as the newest backup (five minutes after now): its key."""
    stamp = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y%m%dT%H%M%SZ")
    key = f"{settings.prefix}/{stamp}-forger.sqlite.gz"
    s3.put_object(Bucket=settings.bucket, Key=key, Body=body, Metadata=meta)
    return key


def written(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record, per download, how many bytes reached the disk before the stream was refused."""
    sizes: list[int] = []
    inflate = snapshot.gunzip_stream

    def measured(chunks: Any, target: Path, limit: int) -> tuple[str, str, int]:
        try:
            return inflate(chunks, target, limit)
        finally:
            sizes.append(target.stat().st_size)

    monkeypatch.setattr(snapshot, "gunzip_stream", measured)
    return sizes


def test_inflation_stops_at_the_limit_without_writing_past_it(tmp_path: Path) -> None:
    target = tmp_path / "out.sqlite"
    with pytest.raises(snapshot.TooLarge, match="inflates past 1048576 bytes"):
        snapshot.gunzip_stream(pieces(bomb()), target, limit=1024 * 1024)
    assert target.stat().st_size <= 1024 * 1024


def test_a_stream_that_fits_its_limit_exactly_inflates_whole(tmp_path: Path) -> None:
    data = os.urandom(300_000)
    _, _, size = snapshot.gunzip_stream(pieces(gzip.compress(data)), tmp_path / "o", len(data))
    assert size == len(data)
    assert (tmp_path / "o").read_bytes() == data


def test_a_decompression_bomb_is_refused_at_the_recorded_size_and_first_boot_goes_on(
    settings: commands.Settings,
    backed_up: str,
    s3: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    meta = s3.head_object(Bucket=settings.bucket, Key=backed_up)["Metadata"]
    forged = plant(s3, settings, bomb(), meta)  # a real backup's metadata on a bomb's bytes
    sizes = written(monkeypatch)
    target = tmp_path / "box" / "onebox.db"
    result = commands.restore_database(replace(settings, database=target), if_missing=True)
    assert (result["key"], result["refused"]) == (backed_up, [forged])
    assert sizes[0] <= int(meta["raw-bytes"]) < BOMB_RAW_BYTES // 100
    assert len(dump(target)["user_states"]) == 50
    assert leftovers(target.parent) == []


def test_a_bomb_that_claims_a_size_the_disk_cannot_spare_writes_nothing(
    settings: commands.Settings, backed_up: str, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta = s3.head_object(Bucket=settings.bucket, Key=backed_up)["Metadata"]
    forged = plant(s3, settings, bomb(), {**meta, "raw-bytes": str(10**15)})
    sizes = written(monkeypatch)
    with pytest.raises(VerifyError, match="does not fit"):
        commands.verify(settings, forged)
    assert sizes == []  # refused before a single byte was downloaded


def test_the_recorded_size_beyond_the_spare_space_is_refused_and_within_it_is_the_limit() -> None:
    spare = 10 * 1024 * 1024
    free = restore.DISK_RESERVE_BYTES + spare
    assert restore.raw_limit("k", str(spare), free) == spare
    with pytest.raises(VerifyError, match="does not fit"):
        restore.raw_limit("k", str(spare + 1), free)
    with pytest.raises(VerifyError, match="not a number"):
        restore.raw_limit("k", "lots", free)


def test_verify_refuses_a_schema_version_this_code_does_not_know(
    settings: commands.Settings,
) -> None:
    with closing(sqlite3.connect(settings.database)) as conn:
        conn.execute("PRAGMA user_version = 99")
    commands.backup(settings)
    with pytest.raises(VerifyError, match="schema version 99 is not one this code knows"):
        commands.verify(settings)


def test_verify_works_in_a_scratch_directory_and_leaves_nothing_beside_the_database(
    settings: commands.Settings, backed_up: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = settings.database.parent
    before = names(live)
    seen: list[tuple[Path, list[str]]] = []
    fetch = restore.fetch_verified

    def watched(s3: Any, bucket: str, key: str, workdir: Path) -> restore.Verified:
        verified = fetch(s3, bucket, key, workdir)
        seen.append((workdir, names(live)))
        return verified

    monkeypatch.setattr(restore, "fetch_verified", watched)
    result = commands.verify(settings)
    ((workdir, during),) = seen
    assert result["rows"]["user_states"] == 50
    assert live not in (workdir, *workdir.parents)
    assert during == before  # not even while the download was there
    assert names(live) == before
    assert not workdir.exists()
