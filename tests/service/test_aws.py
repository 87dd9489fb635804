"""Every AWS client comes from one factory: standard retries, bounded time, the environment as
it is when the client is made, and the environment left as it was."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from service import aws
from tests.aws import aws_environment
from tests.support import ROOT, free_port

FACTORIES: list[Callable[..., Any]] = [aws.client, aws.boto3_client]


def test_clients_use_standard_retries_with_bounded_attempts_and_timeouts() -> None:
    config = aws.config({})
    assert config.retries == {"mode": "standard", "total_max_attempts": aws.MAX_ATTEMPTS}
    assert config.connect_timeout == 3
    assert config.read_timeout == 30


def test_aws_max_attempts_in_the_environment_overrides_the_default() -> None:
    assert aws.config({"AWS_MAX_ATTEMPTS": "2"}).retries["total_max_attempts"] == 2


def test_aws_max_attempts_overrides_a_callers_own_default_too() -> None:
    assert aws.config({}, max_attempts=2).retries["total_max_attempts"] == 2
    assert aws.config({"AWS_MAX_ATTEMPTS": "5"}, max_attempts=2).retries["total_max_attempts"] == 5


@pytest.mark.parametrize("value", ["two", "0"])
def test_a_bad_aws_max_attempts_is_refused_by_name(value: str) -> None:
    with pytest.raises(ValueError, match=f"AWS_MAX_ATTEMPTS='?{value}'? "):
        aws.config({"AWS_MAX_ATTEMPTS": value})


def test_the_region_is_aws_region_then_aws_default_region_then_us_east_1() -> None:
    assert aws.region({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-west-2"}) == "eu-west-1"
    assert aws.region({"AWS_DEFAULT_REGION": "us-west-2"}) == "us-west-2"
    assert aws.region({}) == "us-east-1"


@pytest.mark.parametrize("make", FACTORIES, ids=["botocore", "boto3"])
def test_a_client_takes_endpoint_region_and_attempts_from_the_environment_when_made(
    make: Callable[..., Any], aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    client = make("sqs", max_attempts=7)
    assert client.meta.endpoint_url == aws_env["AWS_ENDPOINT_URL"]
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert client.meta.config.connect_timeout == aws.CONNECT_TIMEOUT_SECONDS


@pytest.mark.parametrize("make", FACTORIES, ids=["botocore", "boto3"])
def test_a_client_talks_to_the_emulator_at_aws_endpoint_url(
    make: Callable[..., Any], aws_env: dict[str, str]
) -> None:
    s3 = make("s3")
    name = f"factory-{make.__name__}".replace("_", "-")
    s3.create_bucket(Bucket=name)
    assert name in {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}


@pytest.mark.parametrize("make", FACTORIES, ids=["botocore", "boto3"])
def test_a_dead_endpoint_is_called_exactly_max_attempts_times_in_all(
    make: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in aws_environment(f"http://127.0.0.1:{free_port()}").items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    client = make("cloudwatch", max_attempts=2)
    sent: list[str] = []
    client.meta.events.register("before-send", lambda **kwargs: sent.append("call"))
    with pytest.raises(EndpointConnectionError):
        client.list_metrics()
    assert sent == ["call", "call"]


def test_making_clients_leaves_the_environment_unchanged(aws_env: dict[str, str]) -> None:
    before = dict(os.environ)
    for make in FACTORIES:
        make("cloudwatch", max_attempts=2)
        make("s3")
    assert dict(os.environ) == before


def test_without_an_endpoint_url_clients_go_to_aws_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    client = aws.client("cloudwatch")
    assert client.meta.endpoint_url == "https://monitoring.eu-west-1.amazonaws.com"


def test_the_botocore_factory_never_loads_boto3() -> None:
    probe = (
        "import sys; from service import aws; aws.client('cloudwatch');"
        "print(','.join(m for m in ('boto3', 's3transfer') if m in sys.modules))"
    )
    env = {**os.environ, "AWS_REGION": "us-east-1"}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
