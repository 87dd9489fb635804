"""`python -m infra.cli deploy` (topology ha): one SSM Run Command, AWS-RunShellScript on the
group's boxes by its tag, one box at a time, stopping at the first failure; checked with
botocore's Stubber, which refuses any call whose arguments differ from the expected ones."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from infra import rollout
from service.contract import AGENT_UNIT

GROUP, RELEASE = "onebox-fleet-asg-0123", "ab" * 32
COMMAND_ID = "0b8a3c6e-1f2d-4e5a-9c7b-123456789abc"  # SSM command ids are 36 characters


def _client() -> tuple[Any, Stubber]:
    ssm = boto3.client(
        "ssm", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return ssm, Stubber(ssm)


def _expect(stubber: Stubber, statuses: list[str], boxes: list[tuple[str, str]]) -> None:
    stubber.add_response(
        "send_command",
        {"Command": {"CommandId": COMMAND_ID, "Status": "Pending"}},
        rollout.command(GROUP, RELEASE),
    )
    for status in statuses:
        stubber.add_response(
            "list_commands", {"Commands": [{"Status": status}]}, {"CommandId": COMMAND_ID}
        )
    stubber.add_response(
        "list_command_invocations",
        {"CommandInvocations": [{"InstanceId": i, "Status": s} for i, s in boxes]},
        {"CommandId": COMMAND_ID},
    )


def test_the_command_runs_the_agent_on_the_groups_boxes_one_at_a_time_and_stops_at_a_failure() -> (
    None
):
    sent = rollout.command(GROUP, RELEASE)
    assert sent["DocumentName"] == "AWS-RunShellScript"
    assert sent["Targets"] == [{"Key": "tag:aws:autoscaling:groupName", "Values": [GROUP]}]
    assert (sent["MaxConcurrency"], sent["MaxErrors"]) == ("1", "0")
    assert sent["Parameters"]["commands"] == [f"systemctl start {AGENT_UNIT}"]
    assert int(sent["Parameters"]["executionTimeout"][0]) > 900  # the agent unit's own limit


def test_a_rollout_that_succeeds_on_every_box_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    ssm, stubber = _client()
    _expect(stubber, ["InProgress", "Success"], [("i-1", "Success"), ("i-2", "Success")])
    with stubber:
        assert rollout.roll(ssm, GROUP, RELEASE, sleep=lambda _: None) == 0
    stubber.assert_no_pending_responses()
    assert "i-2: Success" in capsys.readouterr().out


def test_a_box_that_fails_ends_the_rollout_with_1() -> None:
    ssm, stubber = _client()
    _expect(stubber, ["Failed"], [("i-1", "Failed")])
    with stubber:
        assert rollout.roll(ssm, GROUP, RELEASE, sleep=lambda _: None) == 1
    stubber.assert_no_pending_responses()


def test_a_stack_without_a_group_is_refused_before_any_call() -> None:
    with pytest.raises(ValueError, match="not ha"):
        rollout.command("", RELEASE)
