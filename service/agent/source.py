"""The AWS edge of the agent: the release parameter in SSM and the archive in S3.

Clients are plain botocore ones from `service.aws` (bounded retries and timeouts); reads stream,
so no boto3 transfer machinery is needed. AWS_ENDPOINT_URL points them at moto in tests and on
a local box.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from service import aws
from service.agent.release import CHUNK
from service.pointer import ReleaseError, ReleasePointer


def clients() -> tuple[Any, Any]:
    """(ssm, s3) clients for the region and endpoint in the environment."""
    return aws.client("ssm"), aws.client("s3")


def read_release(ssm: Any, parameter: str) -> ReleasePointer:
    """The release the stack published in `parameter`."""
    value = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
    try:
        return ReleasePointer.from_json(value)
    except ReleaseError as exc:
        raise ReleaseError(f"{parameter}: {exc}") from None


def download(s3: Any, bucket: str, key: str, destination: Path) -> str:
    """Stream s3://bucket/key into `destination` (bounded memory); return its sha256."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    digest = hashlib.sha256()
    with destination.open("wb") as out:
        for chunk in body.iter_chunks(CHUNK):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()
