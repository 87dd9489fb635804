"""One test per security property of the network, the bucket and the instance, named after the
Checkov check it mirrors (the role's are in test_iam.py).

The accepted exceptions (public HTTP port, public IP, no EBS optimization on t2, no KMS keys,
no detailed monitoring, ...) and the reason for each are listed in infra/SECURITY.md.
"""

from __future__ import annotations

import ipaddress
import re

import pytest

from infra import config, network
from infra.mocks import MOCK_PREFIX_LIST, Run
from tests.infra.conftest import ADMIN_CIDR
from tests.infra.helpers import (
    EGRESS,
    INGRESS,
    instance_inputs,
    statements,
    user_data_text,
)

WORLD = {"0.0.0.0/0", "::/0"}
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"


def _cidr(rule_inputs: dict[str, object]) -> str:
    return str(rule_inputs.get("cidrIpv4") or rule_inputs.get("cidrIpv6"))


def _covers(rule_inputs: dict[str, object], port: int) -> bool:
    low, high = rule_inputs.get("fromPort"), rule_inputs.get("toPort")
    return rule_inputs.get("ipProtocol") == "-1" or (
        low is not None and high is not None and int(low) <= port <= int(high)  # type: ignore[call-overload]
    )


def test_ckv_aws_79_imdsv2_is_required(dev_run: Run) -> None:
    options = instance_inputs(dev_run)["metadataOptions"]
    assert options["httpTokens"] == "required"
    assert options["httpEndpoint"] == "enabled"


def test_ckv_aws_341_metadata_hop_limit_is_one(dev_run: Run) -> None:
    assert instance_inputs(dev_run)["metadataOptions"]["httpPutResponseHopLimit"] == 1


def test_ckv_aws_8_root_volume_is_encrypted_gp3(dev_run: Run) -> None:
    root = instance_inputs(dev_run)["rootBlockDevice"]
    assert root["encrypted"] is True
    assert root["volumeType"] == "gp3"


def test_ckv_aws_24_no_ssh_rule_at_all_without_an_admin_cidr(dev_run: Run) -> None:
    assert not [rule for rule in dev_run.of_type(INGRESS) if _covers(rule.inputs, 22)]


def test_ckv_aws_24_ssh_is_open_only_to_the_admin_cidr_when_given(admin_run: Run) -> None:
    ssh = [rule.inputs for rule in admin_run.of_type(INGRESS) if _covers(rule.inputs, 22)]
    assert [_cidr(rule) for rule in ssh] == [ADMIN_CIDR]


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0"])
def test_ckv_aws_24_ssh_from_the_world_is_refused_by_config(cidr: str) -> None:
    with pytest.raises(ValueError, match=r"sshCidr: .* opens SSH to the world"):
        config.parse({"sshCidr": cidr})


def test_ckv_aws_25_no_rdp_rule(dev_run: Run, admin_run: Run) -> None:
    for run in (dev_run, admin_run):
        assert not [rule for rule in run.of_type(INGRESS) if _covers(rule.inputs, 3389)]


def test_ckv_aws_23_every_security_group_and_rule_has_a_description(admin_run: Run) -> None:
    groups = admin_run.of_type("aws:ec2/securityGroup:SecurityGroup")
    rules = admin_run.of_type(INGRESS) + admin_run.of_type(EGRESS)
    assert groups and rules
    for resource in groups + rules:
        assert str(resource.inputs.get("description", "")).strip(), resource.name


def test_ckv_aws_382_egress_is_https_dns_and_ntp_only(dev_run: Run) -> None:
    allowed = {("tcp", 443), ("udp", 53), ("tcp", 53), ("udp", 123)}
    for rule in dev_run.of_type(EGRESS):
        inputs = rule.inputs
        assert inputs["ipProtocol"] != "-1", rule.name
        assert inputs["fromPort"] == inputs["toPort"], rule.name
        assert (inputs["ipProtocol"], int(inputs["toPort"])) in allowed, rule.name
        if _cidr(inputs) in WORLD:
            assert int(inputs["toPort"]) == 443, rule.name


def test_ckv_aws_260_the_http_port_is_open_to_cloudfront_only_by_default(
    dev_run: Run, admin_run: Run
) -> None:
    for run, port in ((dev_run, 80), (admin_run, 8080)):
        rules = [rule.inputs for rule in run.of_type(INGRESS) if not _covers(rule.inputs, 22)]
        assert rules == [
            {
                "securityGroupId": rules[0]["securityGroupId"],
                "description": "HTTP from CloudFront's origin-facing addresses only",
                "ipProtocol": "tcp",
                "fromPort": port,
                "toPort": port,
                "prefixListId": MOCK_PREFIX_LIST,
            }
        ]
        assert not [rule for rule in run.of_type(INGRESS) if _cidr(rule.inputs) in WORLD]
    assert "aws:ec2/getManagedPrefixList:getManagedPrefixList" in dev_run.invokes


def test_the_prefix_list_is_cloudfronts_origin_facing_one() -> None:
    assert network.CLOUDFRONT_PREFIX_LIST == "com.amazonaws.global.cloudfront.origin-facing"


def test_only_the_http_port_is_open_to_allowed_cidrs_without_an_edge(direct_run: Run) -> None:
    rules = [rule.inputs for rule in direct_run.of_type(INGRESS)]
    assert [(_cidr(rule), rule["fromPort"], rule["toPort"]) for rule in rules] == [
        ("203.0.113.0/24", 8080, 8080),
        ("::/0", 8080, 8080),
    ]
    assert not [rule for rule in rules if "prefixListId" in rule]


def test_ipv6_cidrs_become_ipv6_rules(direct_run: Run) -> None:
    for rule in direct_run.of_type(INGRESS):
        cidr = _cidr(rule.inputs)
        key = "cidrIpv6" if ipaddress.ip_network(cidr).version == 6 else "cidrIpv4"
        assert rule.inputs[key] == cidr


def test_ckv_aws_53_to_56_bucket_public_access_is_blocked(dev_run: Run) -> None:
    (block,) = dev_run.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    for flag in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        assert block.inputs[flag] is True, flag


def test_ckv_aws_19_bucket_is_encrypted_by_default(dev_run: Run) -> None:
    kind = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    (encryption,) = dev_run.of_type(kind)
    (rule,) = encryption.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"


def test_ckv_aws_21_bucket_versioning_is_enabled(dev_run: Run) -> None:
    (versioning,) = dev_run.of_type("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"


def test_ckv_aws_300_incomplete_multipart_uploads_are_aborted(dev_run: Run) -> None:
    (lifecycle,) = dev_run.of_type(LIFECYCLE)
    rules = [rule for rule in lifecycle.inputs["rules"] if rule["status"] == "Enabled"]
    assert any(rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 1 for rule in rules)


def test_no_lifecycle_rule_can_delete_the_newest_backup(dev_run: Run) -> None:
    (lifecycle,) = dev_run.of_type(LIFECYCLE)
    for rule in lifecycle.inputs["rules"]:
        # Expiration by days or date deletes current objects; expiring orphaned delete markers
        # (no version left behind them) is the only kind allowed.
        assert rule.get("expiration", {}) in ({}, {"expiredObjectDeleteMarker": True})
        assert "transitions" not in rule
        assert rule["noncurrentVersionExpiration"]["noncurrentDays"] == 7


def test_orphaned_delete_markers_are_cleaned_up(dev_run: Run) -> None:
    (lifecycle,) = dev_run.of_type(LIFECYCLE)
    assert any(
        rule.get("expiration") == {"expiredObjectDeleteMarker": True}
        for rule in lifecycle.inputs["rules"]
    )


def test_bucket_policy_denies_requests_without_tls(dev_run: Run) -> None:
    (statement,) = statements(dev_run, "onebox-backups-tls-only")
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statement["Action"] == "s3:*"


def test_ckv2_aws_41_instance_has_an_instance_profile(dev_run: Run) -> None:
    assert instance_inputs(dev_run)["iamInstanceProfile"]
    profile = dev_run.named("onebox-profile")
    assert profile.inputs["role"] == "onebox-role"


SECRET_PATTERNS = [
    r"AWS_SECRET_ACCESS_KEY",
    r"AWS_SESSION_TOKEN",
    r"\bAKIA[0-9A-Z]{16}\b",  # an access key id
    r"BEGIN [A-Z ]*PRIVATE KEY",
    r"(PASSWORD|TOKEN|SECRET)[A-Z_]*\s*=\s*\S",  # any secret-looking assignment
]


@pytest.mark.parametrize("pattern", SECRET_PATTERNS)
def test_ckv_aws_46_no_secret_in_user_data(admin_run: Run, pattern: str) -> None:
    assert re.search(pattern, user_data_text(admin_run), flags=re.IGNORECASE) is None


def test_cpu_credits_are_standard_so_bursts_cannot_bill_extra(dev_run: Run) -> None:
    assert instance_inputs(dev_run)["creditSpecification"] == {"cpuCredits": "standard"}
