"""IAM and resource policy documents as plain dicts (pure: no pulumi import).

Each builder takes ARNs and names as strings, so the least-privilege rules are tested without
Pulumi or AWS; components turn them into JSON with `json.dumps` inside an `apply`.
"""

from __future__ import annotations

from typing import Any

from service.contract import BACKUP_PREFIX, RELEASE_PREFIX

Document = dict[str, Any]


def _document(*statements: dict[str, Any]) -> Document:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def assume_role_policy(service: str = "ec2.amazonaws.com") -> Document:
    """Trust policy: only the given AWS service may assume the role."""
    return _document(
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    )


def _bucket_read(bucket_arn: str, prefix: str, sid: str) -> list[dict[str, Any]]:
    return [
        {
            "Sid": f"{sid}List",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [f"{prefix}/*", f"{prefix}/"]}},
        },
        {
            "Sid": f"{sid}Read",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{bucket_arn}/{prefix}/*",
        },
    ]


def stack_parameters(release_parameter_arn: str) -> str:
    """The ARN pattern of every parameter beside the release pointer (`/onebox/<stack>/*`).

    The pointer's ARN carries the real partition, region and account. Its parent path must not
    be the root: `parameter/*` would be every parameter of the account.
    """
    head, sep, path = release_parameter_arn.partition(":parameter/")
    parent = path.rpartition("/")[0]
    if not sep or not parent:
        raise ValueError(
            f"release parameter ARN {release_parameter_arn!r} has no parent path to scope to"
        )
    return f"{head}:parameter/{parent}/*"


# What the SSM Agent needs for Session Manager, as AWS documents it ("Create a custom IAM
# instance profile for Session Manager" and "Reference: ec2messages, ssmmessages, and other API
# operations" in the Systems Manager User Guide). None of these actions has a resource type,
# so AWS's own policy gives them Resource "*". Everything else AmazonSSMManagedInstanceCore
# grants (every ssm:GetParameter*, associations, inventory, patch baselines) is left out.
SESSION_MANAGER_ACTIONS = (
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
    "ec2messages:AcknowledgeMessage",
    "ec2messages:DeleteMessage",
    "ec2messages:FailMessage",
    "ec2messages:GetEndpoint",
    "ec2messages:GetMessages",
    "ec2messages:SendReply",
)


def session_manager_policy() -> Document:
    """Session Manager on the box (replaces the managed AmazonSSMManagedInstanceCore)."""
    return _document(
        {
            "Sid": "SessionManager",
            "Effect": "Allow",
            "Action": list(SESSION_MANAGER_ACTIONS),
            "Resource": "*",
        }
    )


def instance_policy(
    bucket_arn: str,
    release_parameter_arn: str,
    metrics_namespace: str,
    restore_bucket_arn: str | None = None,
) -> Document:
    """What the box may do: its backups, its releases, its stack's parameters, its metrics."""
    statements = [
        *_bucket_read(bucket_arn, BACKUP_PREFIX, "Backups"),
        {
            "Sid": "BackupsWrite",
            "Effect": "Allow",
            # DeleteObject: retention prunes old backups (the newest N are always kept).
            "Action": ["s3:PutObject", "s3:DeleteObject"],
            "Resource": f"{bucket_arn}/{BACKUP_PREFIX}/*",
        },
        {
            "Sid": "ReleasesRead",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{bucket_arn}/{RELEASE_PREFIX}/*",
        },
        {
            # The release pointer, the settings and any later parameter of this stack; no
            # other stack's, no other path's.
            "Sid": "StackParameters",
            "Effect": "Allow",
            "Action": "ssm:GetParameter",
            "Resource": stack_parameters(release_parameter_arn),
        },
        {
            "Sid": "Metrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            # PutMetricData has no resource-level permissions; the namespace condition scopes it.
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": metrics_namespace}},
        },
    ]
    if restore_bucket_arn and restore_bucket_arn != bucket_arn:
        statements += _bucket_read(restore_bucket_arn, BACKUP_PREFIX, "Restore")
    return _document(*statements)


def tls_only_bucket_policy(bucket_arn: str) -> Document:
    """Deny every request to the bucket that does not come over TLS (CKV_AWS_70 family)."""
    return _document(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )


def alarm_topic_policy(topic_arn: str, account_id: str) -> Document:
    """Let CloudWatch alarms and AWS Budgets of this account publish to the alarm topic."""
    return _document(
        {
            "Sid": "AlarmsAndBudgetsPublish",
            "Effect": "Allow",
            "Principal": {"Service": ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]},
            "Action": "SNS:Publish",
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }
    )


def logs_policy(log_group_arn: str) -> Document:
    """What the box's log shipper may do: create and write streams of its own log group only.

    No logs:CreateLogGroup and no logs:PutRetentionPolicy: the group and its retention are
    the stack's (infra/logs.py), so the box can neither make other groups nor keep its logs
    longer or shorter than logRetentionDays.
    """
    return _document(
        {
            "Sid": "ShipLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            # The group, and every stream in it (…:log-group:<name>:log-stream:<stream>).
            "Resource": [log_group_arn, f"{log_group_arn}:*"],
        }
    )


def database_secret_policy(secret_arn: str) -> Document:
    """The ha boxes read the RDS-managed secret of their database: that one secret, read only.

    No kms:Decrypt: RDS encrypts the secret under the AWS-managed aws/secretsmanager key, whose
    key policy lets the account's principals use it through Secrets Manager (as aws/ssm does
    for the SecureStrings); a customer-managed key would need the grant here.
    """
    if ":secretsmanager:" not in secret_arn or ":secret:" not in secret_arn:
        raise ValueError(f"database secret {secret_arn!r} is not a Secrets Manager secret ARN")
    return _document(
        {
            "Sid": "DatabaseSecretRead",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": secret_arn,
        }
    )
