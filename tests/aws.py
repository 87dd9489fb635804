"""AWS stand-ins for the tests: moto_server on 127.0.0.1, and the environment that points at it.

Any suite may call these from its own fixtures:

    with moto_server() as endpoint:
        env = aws_environment(endpoint)   # AWS_ENDPOINT_URL, fake credentials, us-east-1
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support import answers, free_port, wait_until

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
        # Never read ~/.aws of whoever runs the tests.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@contextmanager
def moto_server(timeout: float = 30.0) -> Iterator[str]:
    """Run `moto_server` on a free 127.0.0.1 port; yield its URL; always stop it."""
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: process.poll() is None and answers(f"{endpoint}/moto-api/"),
            timeout=timeout,
            what="moto_server",
        )
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
