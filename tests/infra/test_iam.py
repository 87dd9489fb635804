"""The instance role's security properties, named after the Checkov check each mirrors where
there is one: who may assume it, no wildcards, writes only under backups/, and parameters read
one by one and only the stack's own. Exceptions: infra/SECURITY.md.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from infra import policies
from infra.mocks import ACCOUNT, Run
from service import contract
from tests.infra.helpers import as_list, statements

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
PARAMETER_READS = (
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "ssm:GetParameterHistory",
)


def _role_statements(run: Run) -> list[dict[str, Any]]:
    """Every statement of every inline policy on the box's role."""
    return [s for policy in run.of_type(ROLE_POLICY) for s in statements(run, policy.name)]


def _iam_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's wildcard match: `*` any run of characters, `?` one. IAM matches each ARN segment
    on its own; letting `*` cross `:` here errs on the side of finding a grant."""
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.fullmatch(regex, value, flags=re.IGNORECASE if ignore_case else 0) is not None


def _allows(run: Run, action: str, resource: str) -> bool:
    """Whether an Allow statement of the role names this action on this resource."""
    return any(
        statement["Effect"] == "Allow"
        and any(_iam_match(a, action, ignore_case=True) for a in as_list(statement["Action"]))
        and any(_iam_match(r, resource) for r in as_list(statement["Resource"]))
        for statement in _role_statements(run)
    )


def _parameter(name: str, region: str = "us-east-1", account: str = ACCOUNT) -> str:
    return f"arn:aws:ssm:{region}:{account}:parameter{name}"


def test_ckv_aws_60_only_ec2_may_assume_the_instance_role(dev_run: Run) -> None:
    (statement,) = statements(dev_run, "onebox-role", key="assumeRolePolicy")
    assert statement["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"


def test_ckv_aws_62_63_no_wildcard_actions_in_the_role_policies(admin_run: Run) -> None:
    assert {policy.name for policy in admin_run.of_type(ROLE_POLICY)} >= {
        "onebox-policy",
        "onebox-session-manager",
    }
    for statement in _role_statements(admin_run):
        for action in as_list(statement["Action"]):
            assert "*" not in action, statement


def test_ckv_aws_290_355_wildcard_resource_only_where_aws_allows_no_scoping(admin_run: Run) -> None:
    for statement in _role_statements(admin_run):
        if "*" not in as_list(statement["Resource"]):
            continue
        if statement["Sid"] == "SessionManager":  # these actions have no resource type
            assert set(as_list(statement["Action"])) <= set(policies.SESSION_MANAGER_ACTIONS)
            continue
        assert statement["Action"] == "cloudwatch:PutMetricData"
        assert statement["Condition"] == {
            "StringEquals": {"cloudwatch:namespace": contract.metrics_namespace("dev")}
        }


def test_session_manager_gets_only_the_actions_aws_documents_for_its_agent(dev_run: Run) -> None:
    (statement,) = statements(dev_run, "onebox-session-manager")
    actions = as_list(statement["Action"])
    assert actions == list(policies.SESSION_MANAGER_ACTIONS)
    assert {action.split(":")[0] for action in actions} == {"ssm", "ssmmessages", "ec2messages"}
    assert [a for a in actions if a.startswith("ssm:")] == ["ssm:UpdateInstanceInformation"]


def test_no_aws_managed_policy_is_attached_to_the_role(dev_run: Run) -> None:
    # AmazonSSMManagedInstanceCore would grant ssm:GetParameter(s) on every parameter.
    assert not dev_run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")


def test_ckv_aws_290_writes_are_limited_to_the_backups_prefix(admin_run: Run) -> None:
    for statement in statements(admin_run, "onebox-policy"):
        actions = as_list(statement["Action"])
        if any(action in ("s3:PutObject", "s3:DeleteObject") for action in actions):
            assert [str(r).rsplit("/", 2)[-2:] for r in as_list(statement["Resource"])] == [
                [contract.BACKUP_PREFIX, "*"]
            ]


def test_release_pointer_and_releases_are_readable_and_nothing_more(dev_run: Run) -> None:
    by_sid = {statement["Sid"]: statement for statement in statements(dev_run, "onebox-policy")}
    assert by_sid["StackParameters"]["Action"] == "ssm:GetParameter"
    assert by_sid["StackParameters"]["Resource"] == _parameter("/onebox/dev/*")
    assert _allows(dev_run, "ssm:GetParameter", _parameter(contract.release_parameter("dev")))
    assert by_sid["ReleasesRead"]["Action"] == "s3:GetObject"
    assert by_sid["ReleasesRead"]["Resource"].endswith(f"/{contract.RELEASE_PREFIX}/*")


def test_restore_bucket_is_readable_only_under_backups(admin_run: Run) -> None:
    restore = [s for s in statements(admin_run, "onebox-policy") if s["Sid"].startswith("Restore")]
    assert {s["Sid"]: s["Action"] for s in restore} == {
        "RestoreList": "s3:ListBucket",
        "RestoreRead": "s3:GetObject",
    }
    assert f"arn:aws:s3:::onebox-backups-from-before/{contract.BACKUP_PREFIX}/*" in [
        s["Resource"] for s in restore
    ]


@pytest.mark.parametrize(
    "name",
    [
        "/onebox/dev/release",
        "/onebox/dev/settings",
        "/onebox/dev/x/y",
        contract.api_token_parameter("dev"),
        contract.origin_secret_parameter("dev"),
    ],
)
def test_the_boxs_role_reads_its_own_stacks_parameters(admin_run: Run, name: str) -> None:
    assert _allows(admin_run, "ssm:GetParameter", _parameter(name))


@pytest.mark.parametrize(
    "arn",
    [
        _parameter("/onebox/prod/release"),  # another stack
        _parameter("/onebox/dev2/release"),  # a stack whose name starts like this one's
        _parameter("/onebox/dev"),  # the path itself is no parameter of the stack
        _parameter("/other/database-password"),  # another path
        _parameter("/aws/service/ami-amazon-linux-latest/x"),  # AWS's public parameters
        _parameter("/onebox/dev/release", region="eu-west-1"),  # another region
        _parameter("/onebox/dev/release", account="210987654321"),  # another account
    ],
)
def test_the_boxs_role_cannot_read_other_parameters(admin_run: Run, arn: str) -> None:
    for action in PARAMETER_READS:
        assert not _allows(admin_run, action, arn), (action, arn)


def test_the_secrets_decrypt_under_the_aws_managed_key_with_no_kms_grant(dev_run: Run) -> None:
    # The aws/ssm key's own policy lets every principal of the account decrypt through SSM
    # (kms:ViaService ssm, kms:CallerAccount): ssm:GetParameter on the parameter is the whole
    # grant, so the role needs no kms:Decrypt, and so holds none to misuse on other keys.
    for name in ("onebox-secrets-token-parameter", "onebox-secrets-origin-parameter"):
        parameter = dev_run.named(name).inputs
        assert parameter["type"] == "SecureString"
        assert "keyId" not in parameter  # the AWS-managed aws/ssm key
    actions = [a for s in _role_statements(dev_run) for a in as_list(s["Action"])]
    assert not [action for action in actions if action.lower().startswith("kms:")]


def test_the_boxs_role_reads_parameters_one_by_one_only(admin_run: Run) -> None:
    own = _parameter("/onebox/dev/release")
    for action in PARAMETER_READS[1:]:
        assert not _allows(admin_run, action, own), action
