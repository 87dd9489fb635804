"""Every AWS client on the box comes from here, with bounded time: standard retries, short timeouts.

The backup command, the deploy agent and the publisher share this one factory. `client` is plain
botocore; `boto3_client` is for callers that need boto3's S3 transfers (`upload_file`) and
imports boto3 only when called, so the publisher never loads it (its budget is 50 MB RSS).

Retries and timeouts live in each client's `Config`. The environment is read when a client is
made, never at import, and never changed: AWS_MAX_ATTEMPTS overrides the attempts,
AWS_REGION (or AWS_DEFAULT_REGION) picks the region, AWS_ENDPOINT_URL points at an emulator.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import botocore.session
from botocore.config import Config

MAX_ATTEMPTS = 4  # calls in all: the first and three retries
CONNECT_TIMEOUT_SECONDS = 3  # a dead endpoint fails in seconds, not minutes
READ_TIMEOUT_SECONDS = 30
DEFAULT_REGION = "us-east-1"


def config(environ: Mapping[str, str] | None = None, *, max_attempts: int = MAX_ATTEMPTS) -> Config:
    """Standard-mode retries (backoff with jitter on throttling and transient errors) and
    connect/read timeouts. `max_attempts` is the caller's default; AWS_MAX_ATTEMPTS overrides it."""
    env = os.environ if environ is None else environ
    raw = env.get("AWS_MAX_ATTEMPTS", "")
    try:
        attempts = int(raw) if raw else max_attempts
    except ValueError:
        raise ValueError(f"AWS_MAX_ATTEMPTS={raw!r} is not a whole number") from None
    if attempts < 1:
        raise ValueError(f"AWS_MAX_ATTEMPTS={attempts} must be at least 1")
    return Config(
        # total_max_attempts counts the first call, as AWS_MAX_ATTEMPTS does; botocore's
        # `max_attempts` key would count retries only and make 4 mean 5 calls.
        retries={"mode": "standard", "total_max_attempts": attempts},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
    )


def region(environ: Mapping[str, str] | None = None) -> str:
    """AWS_REGION (what the box's env file sets; botocore reads only AWS_DEFAULT_REGION), then
    AWS_DEFAULT_REGION, then us-east-1."""
    env = os.environ if environ is None else environ
    return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def _arguments(max_attempts: int) -> dict[str, Any]:
    """What every client is made with, from the environment as it is now."""
    env = os.environ
    return {
        "region_name": region(env),
        "endpoint_url": env.get("AWS_ENDPOINT_URL") or None,  # None: AWS's own endpoint
        "config": config(env, max_attempts=max_attempts),
    }


def client(service: str, *, max_attempts: int = MAX_ATTEMPTS) -> Any:
    """A plain botocore client: CloudWatch for the publisher, SSM and S3 reads for the agent."""
    session = botocore.session.get_session()
    return session.create_client(service, **_arguments(max_attempts))


def boto3_client(service: str, *, max_attempts: int = MAX_ATTEMPTS) -> Any:
    """A boto3 client, for S3 transfers (`upload_file`, multipart) that botocore lacks."""
    import boto3  # here, not at the top: the publisher imports this module and stays light

    return boto3.session.Session().client(service, **_arguments(max_attempts))
