"""AWS clients retry the botocore way (standard mode) and every attempt has a timeout."""

from __future__ import annotations

from service import aws


def test_clients_use_standard_retries_with_bounded_attempts_and_timeouts() -> None:
    config = aws.config({})
    assert config.retries == {"mode": "standard", "max_attempts": aws.MAX_ATTEMPTS}
    assert config.connect_timeout == 3
    assert config.read_timeout == 30


def test_aws_max_attempts_in_the_environment_overrides_the_default() -> None:
    assert aws.config({"AWS_MAX_ATTEMPTS": "2"}).retries["max_attempts"] == 2


def test_the_publishers_client_is_plain_botocore_and_honours_the_endpoint(
    aws_env: dict[str, str],
) -> None:
    client = aws.botocore_client("cloudwatch")
    assert client.meta.endpoint_url == aws_env["AWS_ENDPOINT_URL"]
    assert client.meta.config.retries["mode"] == "standard"
