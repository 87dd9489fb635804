"""The agent's AWS clients work with the box's env file, which names the region as AWS_REGION."""

from __future__ import annotations

import pytest

from service.agent import source


def test_clients_take_the_region_from_aws_region_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    ssm, s3 = source.clients()
    assert ssm.meta.region_name == s3.meta.region_name == "eu-west-1"
