"""The pure policy builders, without Pulumi: what they scope and what they refuse."""

from __future__ import annotations

import pytest

from infra import policies
from service import contract

POINTER = f"arn:aws:ssm:eu-west-1:123456789012:parameter{contract.release_parameter('dev')}"


def test_stack_parameters_are_every_parameter_beside_the_release_pointer() -> None:
    assert policies.stack_parameters(POINTER) == (
        "arn:aws:ssm:eu-west-1:123456789012:parameter/onebox/dev/*"
    )


def test_stack_parameters_keep_the_partition_of_the_pointer() -> None:
    pointer = "arn:aws-cn:ssm:cn-north-1:123456789012:parameter/onebox/prod/release"
    assert policies.stack_parameters(pointer).startswith("arn:aws-cn:ssm:cn-north-1:")


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:ssm:eu-west-1:123456789012:parameter/release",  # parent is the root: every one
        "arn:aws:ssm:eu-west-1:123456789012:document/onebox/dev/release",  # not a parameter
    ],
)
def test_a_pointer_without_a_parent_path_is_refused(arn: str) -> None:
    with pytest.raises(ValueError, match="no parent path"):
        policies.stack_parameters(arn)


def test_the_instance_policy_grants_no_parameter_outside_the_stack() -> None:
    document = policies.instance_policy("arn:aws:s3:::b", POINTER, "Onebox/dev")
    reads = [s for s in document["Statement"] if str(s["Action"]).startswith("ssm:")]
    assert reads == [
        {
            "Sid": "StackParameters",
            "Effect": "Allow",
            "Action": "ssm:GetParameter",
            "Resource": "arn:aws:ssm:eu-west-1:123456789012:parameter/onebox/dev/*",
        }
    ]


def test_the_session_manager_policy_has_no_parameter_read() -> None:
    (statement,) = policies.session_manager_policy()["Statement"]
    assert not [a for a in statement["Action"] if a.startswith("ssm:GetParameter")]
