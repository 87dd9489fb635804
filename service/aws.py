"""AWS clients with bounded time: botocore's standard retries and short timeouts, nothing else.

Shared by the backup command, the publisher and the deploy agent. It imports no boto3, so the
metrics publisher gets a CloudWatch client without S3's transfer machinery (its memory budget
is 50 MB). AWS_ENDPOINT_URL points at an emulator.
"""

from __future__ import annotations

import os
from typing import Any

import botocore.session
from botocore.config import Config

MAX_ATTEMPTS = 4


def config(environ: dict[str, str] | None = None) -> Config:
    """Standard-mode retries (backoff with jitter on throttling and transient errors) and
    connect/read timeouts, so a dead endpoint fails in seconds; AWS_MAX_ATTEMPTS overrides."""
    env = os.environ if environ is None else environ
    attempts = int(env.get("AWS_MAX_ATTEMPTS", MAX_ATTEMPTS))
    return Config(
        retries={"mode": "standard", "max_attempts": attempts},
        connect_timeout=3,
        read_timeout=30,
    )


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def botocore_client(service: str) -> Any:
    """A plain botocore client (no boto3 import): what the publisher needs."""
    session = botocore.session.get_session()
    return session.create_client(service, region_name=region(), config=config())
