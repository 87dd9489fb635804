"""The log group on its own under the SDK's mocks, and the policy that lets the box write to it."""

from __future__ import annotations

import json

import pulumi
import pytest

from infra import config, policies
from infra.logs import Logs, LogsArgs
from infra.mocks import ACCOUNT, Declared, OneboxMocks, RecordingMonitor, Run
from service.contract import log_group
from tests.infra.helpers import as_list

GROUP = "aws:cloudwatch/logGroup:LogGroup"
GROUP_ARN = "arn:aws:logs:us-east-1:123456789012:log-group:/onebox/unit"


def _declared(monitor: RecordingMonitor, name: str) -> dict[str, object]:
    mocks = monitor.mocks
    assert isinstance(mocks, OneboxMocks)
    (inputs,) = [inputs for typ, named, inputs in mocks.declared if (typ, named) == (GROUP, name)]
    return inputs


@pulumi.runtime.test
def test_one_group_per_stack_keeps_events_for_the_configured_days(
    monitor: RecordingMonitor,
) -> None:
    logs = Logs("unit-logs", LogsArgs(stack="unit", retention_days=30))

    def check(name: str) -> None:
        assert name == "/onebox/unit" == log_group("unit")
        inputs = _declared(monitor, "unit-logs-group")
        assert inputs["name"] == "/onebox/unit"
        assert inputs["retentionInDays"] == 30

    return logs.group_name.apply(check)  # type: ignore[return-value]


@pulumi.runtime.test
def test_the_group_outlives_the_instance_and_the_stack(monitor: RecordingMonitor) -> None:
    logs = Logs(
        "unit-logs", LogsArgs(stack="unit", retention_days=config.DEFAULTS.log_retention_days)
    )

    def check(_: str) -> None:
        options = monitor.options[(GROUP, "unit-logs-group")]
        assert options["retain_on_delete"] is True
        assert _declared(monitor, "unit-logs-group")["retentionInDays"] == 14

    return logs.group_arn.apply(check)  # type: ignore[return-value]


def test_the_box_may_only_create_and_write_streams_of_its_own_group() -> None:
    (statement,) = policies.logs_policy(GROUP_ARN)["Statement"]
    assert statement["Effect"] == "Allow"
    assert sorted(as_list(statement["Action"])) == [
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
    ]
    assert as_list(statement["Resource"]) == [GROUP_ARN, f"{GROUP_ARN}:*"]


def test_the_box_cannot_make_groups_or_change_their_retention() -> None:
    document = policies.logs_policy(GROUP_ARN)
    actions = {action for s in document["Statement"] for action in as_list(s["Action"])}
    assert not {"logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:*"} & actions
    resources = {r for s in document["Statement"] for r in as_list(s["Resource"])}
    assert all(r.startswith(GROUP_ARN) for r in resources)


# The whole program: these run once __main__.py builds Logs and hands its ARN to the server's
# role (until then they skip, saying so).
def _group(run: Run) -> Declared:
    groups = run.of_type(GROUP)
    if not groups:
        pytest.skip("__main__.py does not build infra.logs.Logs yet")
    (group,) = groups
    return group


def test_the_dev_stack_has_one_group_named_for_it_with_the_configured_retention(
    dev_run: Run,
) -> None:
    group = _group(dev_run)
    assert group.inputs["name"] == "/onebox/dev"
    assert group.inputs["retentionInDays"] == config.DEFAULTS.log_retention_days
    assert group.options["retain_on_delete"] is True


def test_a_paused_stack_keeps_its_group(paused_run: Run) -> None:
    assert _group(paused_run).inputs["name"] == "/onebox/dev"


def test_the_role_may_write_to_the_stacks_group_and_nothing_else_of_logs(dev_run: Run) -> None:
    group = _group(dev_run)
    arn = f"arn:aws:mock:us-east-1:{ACCOUNT}:{group.name}"  # the mocks' ARN for the group
    logs_statements = [
        statement
        for policy in dev_run.of_type("aws:iam/rolePolicy:RolePolicy")
        for statement in json.loads(policy.inputs["policy"])["Statement"]
        if any(action.startswith("logs:") for action in as_list(statement["Action"]))
    ]
    if not logs_statements:
        pytest.skip("the server's role has no logs_policy yet")
    assert logs_statements == policies.logs_policy(arn)["Statement"]
