"""A consistent SQLite snapshot, its integrity check, and gzip with SHA-256 in one streaming pass.

The snapshot uses SQLite's online backup API in a single step, so it is one read transaction:
in WAL mode writers keep writing, and the copy holds exactly the transactions committed before
it began. Files are read and written in 1 MiB chunks, so memory stays flat whatever the size.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sqlite3
import zlib
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024
# zlib level 6 is gzip(1)'s default: the same size/speed trade the baseline makes.
GZIP_LEVEL = 6


class SnapshotError(Exception):
    """The database could not be snapshotted, or a copy of it is not sound."""


class TooLarge(SnapshotError):
    """A gzip stream inflates past the bytes allowed for it (a decompression bomb, or a lie)."""


def file_identity(path: Path) -> str:
    """`device:inode` of the file at `path`: what tells the same file from a replacement."""
    info = path.stat()
    return f"{info.st_dev}:{info.st_ino}"


@dataclass(frozen=True)
class Digest:
    """Checksums and sizes of one backup: uncompressed (raw) and gzip bytes."""

    raw_sha256: str
    raw_bytes: int
    gz_sha256: str
    gz_bytes: int


def take(database: Path, target: Path) -> None:
    """Copy the live `database` into the new file `target` (online backup API, one step)."""
    if not database.is_file():
        raise SnapshotError(f"database {str(database)!r} does not exist")
    try:
        # Not mode=ro: a read-only connection cannot open a WAL database whose -shm is missing.
        with (
            closing(sqlite3.connect(database, timeout=30)) as src,
            closing(sqlite3.connect(target)) as dst,
        ):
            src.backup(dst, pages=-1)  # -1: all pages in one step, one read transaction
    except sqlite3.Error as exc:
        raise SnapshotError(f"snapshot of {str(database)!r} failed: {exc}") from exc


def inspect(path: Path) -> dict[str, int]:
    """Run `PRAGMA integrity_check` on `path` and count the rows of every table.

    Raises SnapshotError naming the file when it is not a sound SQLite database.
    """
    try:
        with closing(sqlite3.connect(path)) as conn:
            result = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            if result != ["ok"]:
                raise SnapshotError(f"{str(path)!r} fails integrity_check: {result[:3]}")
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                    " AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            return {
                t: int(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0])  # noqa: S608
                for t in tables
            }
    except sqlite3.DatabaseError as exc:
        raise SnapshotError(f"{str(path)!r} is not a sound SQLite database: {exc}") from exc


def compress(raw: Path, target: Path) -> Digest:
    """Gzip `raw` into `target`, hashing both sides as the bytes stream through."""
    raw_hash, gz_hash = hashlib.sha256(), hashlib.sha256()
    raw_size = 0
    with open(raw, "rb") as src, open(target, "wb") as out:
        hashing = _HashingWriter(out, gz_hash)
        # mtime=0 and no file name: the same database always gives the same gzip bytes.
        with gzip.GzipFile(
            filename="", mode="wb", fileobj=hashing, compresslevel=GZIP_LEVEL, mtime=0
        ) as gz:
            while chunk := src.read(CHUNK):
                raw_hash.update(chunk)
                raw_size += len(chunk)
                gz.write(chunk)
    return Digest(raw_hash.hexdigest(), raw_size, gz_hash.hexdigest(), hashing.size)


def gunzip_stream(chunks: Iterable[bytes], target: Path, limit: int) -> tuple[str, str, int]:
    """Gunzip a stream of gzip bytes into `target` (fsynced) in one pass.

    Returns the SHA-256 of the gzip bytes, of the raw bytes, and the raw size. Output is made
    in bounded pieces, so even a maliciously dense stream cannot blow up memory, and never
    more than `limit` bytes reach the disk: the piece that would pass it raises TooLarge
    unwritten. A stream that ends before the gzip trailer (truncated) raises SnapshotError.
    """
    gz_hash, raw_hash = hashlib.sha256(), hashlib.sha256()
    inflate = zlib.decompressobj(wbits=31)  # 31: gzip header and trailer, CRC checked
    size = 0
    try:
        with open(target, "wb") as out:
            for chunk in chunks:
                gz_hash.update(chunk)
                data = chunk
                while data and not inflate.eof:
                    raw = inflate.decompress(data, CHUNK)
                    if size + len(raw) > limit:
                        raise TooLarge(f"{str(target)!r}: inflates past {limit} bytes; refused")
                    raw_hash.update(raw)
                    size += out.write(raw)
                    data = inflate.unconsumed_tail
            out.flush()
            os.fsync(out.fileno())
    except zlib.error as exc:
        raise SnapshotError(f"{str(target)!r}: not a gzip stream: {exc}") from exc
    if not inflate.eof or inflate.unused_data:
        raise SnapshotError(f"{str(target)!r}: the gzip stream is truncated or has trailing bytes")
    return gz_hash.hexdigest(), raw_hash.hexdigest(), size


class _HashingWriter:
    """A write-only file object that hashes and counts what passes through it."""

    def __init__(self, out: BinaryIO, digest: hashlib._Hash) -> None:
        self.out, self.digest, self.size = out, digest, 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.out.write(data)

    def flush(self) -> None:
        self.out.flush()
