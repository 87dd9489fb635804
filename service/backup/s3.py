"""The bucket side of backups: bounded-time clients, upload with read-back, list, fetch, delete.

Clients come from `service.aws` with botocore's standard retries and short timeouts, so a dead
endpoint fails the caller in bounded time instead of hanging a systemd unit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig

from service import aws
from service.backup import keys

CHUNK = 1024 * 1024
# Small parts, two at a time: the box has 1 GiB and the web service comes first.
TRANSFER = TransferConfig(
    multipart_threshold=16 * CHUNK, multipart_chunksize=8 * CHUNK, max_concurrency=2
)


class VerifyError(Exception):
    """An object's bytes do not match the checksums recorded for it."""


@dataclass(frozen=True)
class StoredBackup:
    """A backup object as the bucket lists it."""

    key: str
    time: datetime
    size: int


def client(service: str = "s3") -> Any:
    """The bucket's client: a boto3 one from `aws`, since `upload` needs boto3's S3 transfers."""
    return aws.boto3_client(service)


def upload(
    s3: Any, bucket: str, key: str, path: Path, gz_sha256: str, meta: Mapping[str, str]
) -> None:
    """Upload `path` encrypted (SSE-S3) with an S3 SHA-256 checksum, then read it back.

    The read-back hashes every byte S3 returns and compares it with `gz_sha256` (what we
    compressed); only that proves the object is whole, since emulators skip checksums.
    """
    extra = {
        "ServerSideEncryption": "AES256",
        "ChecksumAlgorithm": "SHA256",
        "ContentType": "application/gzip",
        "Metadata": dict(meta),
    }
    s3.upload_file(str(path), bucket, key, ExtraArgs=extra, Config=TRANSFER)
    actual = hashlib.sha256()
    for chunk in chunks(s3, bucket, key):
        actual.update(chunk)
    if actual.hexdigest() != gz_sha256:
        raise VerifyError(
            f"s3://{bucket}/{key}: read back sha256 {actual.hexdigest()} != uploaded {gz_sha256}"
        )


def chunks(s3: Any, bucket: str, key: str) -> Iterator[bytes]:
    """The object's bytes, streamed in 1 MiB pieces."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        yield from body.iter_chunks(CHUNK)
    finally:
        body.close()


def metadata(s3: Any, bucket: str, key: str) -> dict[str, str]:
    """The user metadata of one object."""
    meta: dict[str, str] = s3.head_object(Bucket=bucket, Key=key).get("Metadata", {})
    return meta


def listing(s3: Any, bucket: str, prefix: str) -> list[StoredBackup]:
    """Every backup object under `prefix`, newest first (other objects are ignored)."""
    sizes: dict[str, int] = {}
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix.strip('/')}/"):
        for item in page.get("Contents", []):
            sizes[item["Key"]] = int(item["Size"])
    return [StoredBackup(b.key, b.time, sizes[b.key]) for b in keys.backups(sizes)]


def delete(s3: Any, bucket: str, names: list[str]) -> None:
    """Delete `names` (1000 per request, the API's limit); a per-key error raises."""
    for start in range(0, len(names), 1000):
        batch = [{"Key": name} for name in names[start : start + 1000]]
        answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise OSError(f"s3://{bucket}/{first.get('Key')}: delete failed: {first}")
