"""moto_server on 127.0.0.1: the AWS endpoint of the local box (and of the tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from localbox.processes import free_port, stop

REGION = "us-east-1"


def aws_environment(endpoint: str) -> dict[str, str]:
    """Variables that make boto3 (in this process or a child) talk to `endpoint` only."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        # Never read ~/.aws of whoever runs this.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):  # noqa: S310 (loopback only)
            return True
    except (OSError, urllib.error.URLError):
        return False


@contextmanager
def moto_server(port: int | None = None, timeout: float = 30.0) -> Iterator[str]:
    """Run `moto_server` on 127.0.0.1; yield its URL; always stop it."""
    port = port or free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    # Its own session: a Ctrl-C meant for the caller must not kill it before the final backup.
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while not _answers(f"{endpoint}/moto-api/"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not start on {endpoint}")
            time.sleep(0.05)
        yield endpoint
    finally:
        stop(process, grace=10)
