"""Small readers over a mocked run, shared by the infrastructure tests."""

from __future__ import annotations

import json
from typing import Any

import yaml

from infra.mocks import Run
from service import config

INSTANCE = "aws:ec2/instance:Instance"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def only_inputs(run: Run, resource_type: str) -> dict[str, Any]:
    """The inputs of the one resource of this type (fails if there are none or several)."""
    (resource,) = run.of_type(resource_type)
    return resource.inputs


def instance_inputs(run: Run) -> dict[str, Any]:
    """The inputs of the one EC2 instance."""
    return only_inputs(run, INSTANCE)


def user_data_text(run: Run) -> str:
    """The instance's user-data as cloud-init reads it (plain text)."""
    text: str = instance_inputs(run)["userData"]
    return text


def user_data(run: Run) -> dict[str, Any]:
    """The cloud-config document."""
    text = user_data_text(run)
    assert text.startswith("#cloud-config\n")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def written_files(run: Run) -> dict[str, str]:
    """path -> content of every file the user-data writes."""
    return {entry["path"]: entry["content"] for entry in user_data(run)["write_files"]}


def settings_text(run: Run) -> str:
    """The settings parameter's value: the text of the box's /etc/onebox/onebox.env."""
    text: str = run.named("onebox-settings-parameter").inputs["value"]
    return text


def env_values(run: Run) -> dict[str, str]:
    """The /etc/onebox/onebox.env the box gets (from the settings parameter)."""
    return config.parse_env_file(settings_text(run))


def statements(run: Run, name: str, key: str = "policy") -> list[dict[str, Any]]:
    """The statements of a JSON policy input of the named resource."""
    document = json.loads(run.named(name).inputs[key])
    result: list[dict[str, Any]] = document["Statement"]
    return result


def as_list(value: Any) -> list[Any]:
    """IAM allows a string or a list in Action/Resource; always a list here."""
    return value if isinstance(value, list) else [value]
