"""The edge under mocks: the distribution, the secrets it and the box share, the custom domain,
and the stack without an edge."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from infra import config, edge
from infra.mocks import MOCK_DISTRIBUTION_DOMAIN, OneboxMocks, RecordingMonitor, Run
from infra.secrets import SecretsArgs, StackSecrets
from service import contract
from service.contract import api_token_parameter, origin_secret_parameter, sentry_dsn_parameter
from tests.infra.conftest import DOMAIN, GIVEN_TOKEN, ZONE
from tests.infra.helpers import only_inputs, settings_text, user_data_text

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
PARAMETER = "aws:ssm/parameter:Parameter"
PASSWORD = "random:index/randomPassword:RandomPassword"


def _distribution(run: Run) -> dict[str, object]:
    return only_inputs(run, DISTRIBUTION)


def test_viewers_get_https_http2_and_http3_and_nothing_is_cached(dev_run: Run) -> None:
    inputs = _distribution(dev_run)
    behavior = inputs["defaultCacheBehavior"]
    assert behavior["viewerProtocolPolicy"] == "redirect-to-https"
    assert inputs["httpVersion"] == "http2and3"
    assert behavior["cachePolicyId"] == edge.CACHING_DISABLED
    assert edge.CACHING_DISABLED == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CachingDisabled
    # AllViewerExceptHostHeader: Authorization, X-Request-ID, traceparent, the query string
    # and CloudFront-Viewer-Address reach the box.
    assert behavior["originRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"
    assert set(behavior["allowedMethods"]) == {
        "GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"
    }  # fmt: skip
    assert inputs["viewerCertificate"] == {"cloudfrontDefaultCertificate": True}
    assert "aliases" not in inputs or not inputs["aliases"]


def test_the_origin_is_the_boxs_public_name_over_http_on_its_port(
    dev_run: Run, admin_run: Run
) -> None:
    for run, port in ((dev_run, 80), (admin_run, 8080)):
        (origin,) = _distribution(run)["origins"]
        assert origin["domainName"] == "ec2-203-0-113-10.compute-1.amazonaws.com"
        custom = origin["customOriginConfig"]
        assert custom["originProtocolPolicy"] == "http-only"
        assert custom["httpPort"] == port
        assert _distribution(run)["defaultCacheBehavior"]["targetOriginId"] == origin["originId"]


def test_the_origin_header_carries_the_origin_secret_as_a_pulumi_secret(dev_run: Run) -> None:
    (distribution,) = dev_run.of_type(DISTRIBUTION)
    (origin,) = distribution.inputs["origins"]
    (header,) = origin["customHeaders"]
    assert header["name"] == contract.ORIGIN_HEADER == "X-Onebox-Origin"
    stored = dev_run.named("onebox-secrets-origin-parameter")
    assert header["value"] == stored.inputs["value"]
    assert len(header["value"]) == 48 and header["value"].isalnum()
    assert "origins" in distribution.secret_inputs


def test_both_secrets_are_random_letters_and_digits_of_48(dev_run: Run) -> None:
    passwords = {p.name: p.inputs for p in dev_run.of_type(PASSWORD)}
    assert set(passwords) == {"onebox-secrets-token", "onebox-secrets-origin"}
    for inputs in passwords.values():
        assert inputs["length"] == 48
        assert inputs["special"] is False


def test_token_and_origin_secret_are_securestrings_under_the_stack(dev_run: Run) -> None:
    stored = {p.inputs["name"]: p for p in dev_run.of_type(PARAMETER)}
    for name in (contract.api_token_parameter("dev"), contract.origin_secret_parameter("dev")):
        assert stored[name].inputs["type"] == "SecureString", name
        assert "value" in stored[name].secret_inputs, name
    assert contract.api_token_parameter("dev") == "/onebox/dev/api-token"
    assert contract.origin_secret_parameter("dev") == "/onebox/dev/origin-secret"
    token = stored[contract.api_token_parameter("dev")].inputs["value"]
    assert token == dev_run.outputs["api_token"]


def test_the_token_is_exported_only_as_a_secret(dev_run: Run, domain_run: Run) -> None:
    assert "api_token" in dev_run.secret_outputs
    assert "api_token" in domain_run.secret_outputs
    assert domain_run.outputs["api_token"] == GIVEN_TOKEN
    # A given token: no generated one.
    assert [p.name for p in domain_run.of_type(PASSWORD)] == ["onebox-secrets-origin"]


@pytest.mark.parametrize("variant", ["dev_run", "domain_run", "direct_run"])
def test_no_secret_is_in_the_user_data_or_the_settings(
    variant: str, request: pytest.FixtureRequest
) -> None:
    run: Run = request.getfixturevalue(variant)
    secrets = [
        p.inputs["value"] for p in run.of_type(PARAMETER) if p.inputs["type"] == "SecureString"
    ]
    assert secrets
    texts = (user_data_text(run), settings_text(run))
    for secret in secrets:
        for text in texts:
            assert secret not in text
    if variant == "domain_run":
        assert all(GIVEN_TOKEN not in text for text in texts)


def test_the_urls_are_https_on_the_distributions_name(dev_run: Run) -> None:
    base = f"https://{MOCK_DISTRIBUTION_DOMAIN}"
    assert dev_run.outputs["url"] == base
    assert dev_run.outputs["health_url"] == f"{base}/api/health"
    assert dev_run.outputs["metrics_url"] == f"{base}/api/metrics"


def test_a_domain_gets_a_us_east_1_certificate_validated_by_dns(domain_run: Run) -> None:
    provider = domain_run.named("onebox-edge-us-east-1")
    assert provider.inputs["region"] == "us-east-1"  # the stack itself is in eu-west-1
    (certificate,) = domain_run.of_type("aws:acm/certificate:Certificate")
    assert certificate.inputs["domainName"] == DOMAIN
    assert certificate.inputs["validationMethod"] == "DNS"
    assert "onebox-edge-us-east-1" in certificate.options["provider"]
    (validation,) = domain_run.of_type("aws:acm/certificateValidation:CertificateValidation")
    assert "onebox-edge-us-east-1" in validation.options["provider"]
    validation_record = domain_run.named("onebox-edge-validation").inputs
    assert validation_record["zoneId"] == ZONE
    assert validation_record["type"] == "CNAME"
    assert validation.inputs["validationRecordFqdns"] == [validation_record["name"].rstrip(".")]
    viewer = _distribution(domain_run)["viewerCertificate"]
    assert viewer["acmCertificateArn"] == validation.inputs["certificateArn"]
    assert viewer["sslSupportMethod"] == "sni-only"
    assert viewer["minimumProtocolVersion"] == "TLSv1.2_2021"
    assert _distribution(domain_run)["aliases"] == [DOMAIN]


def test_a_domain_gets_alias_records_and_becomes_the_url(domain_run: Run) -> None:
    aliases = [domain_run.named(f"onebox-edge-alias-{kind}").inputs for kind in ("a", "aaaa")]
    for record, kind in zip(aliases, ("A", "AAAA"), strict=True):
        assert (record["zoneId"], record["name"], record["type"]) == (ZONE, DOMAIN, kind)
        (alias,) = record["aliases"]
        assert alias["name"] == MOCK_DISTRIBUTION_DOMAIN
        assert alias["zoneId"] == edge.CLOUDFRONT_ZONE_ID
    assert domain_run.outputs["url"] == f"https://{DOMAIN}"
    assert domain_run.outputs["health_url"] == f"https://{DOMAIN}/api/health"


def test_without_an_edge_there_is_no_distribution_and_no_origin_secret(direct_run: Run) -> None:
    assert not direct_run.of_type(DISTRIBUTION)
    names = {p.inputs["name"] for p in direct_run.of_type(PARAMETER)}
    assert contract.origin_secret_parameter("dev") not in names
    assert contract.api_token_parameter("dev") in names  # a token all the same
    assert direct_run.outputs["url"] == "http://203.0.113.10:8080"
    assert direct_run.outputs["distribution_id"] is None


def test_a_paused_stack_keeps_its_secrets_but_has_no_distribution(paused_run: Run) -> None:
    assert not paused_run.of_type(DISTRIBUTION)
    assert {p.name for p in paused_run.of_type(PASSWORD)} == {
        "onebox-secrets-token", "onebox-secrets-origin"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"edge": "alb"}, "edge: 'alb' is not one of cloudfront, none"),
        ({"domain": DOMAIN}, "domain and hostedZoneId: set both"),
        ({"hostedZoneId": ZONE}, "domain and hostedZoneId: set both"),
        ({"domain": DOMAIN, "hostedZoneId": ZONE, "edge": "none"}, "needs edge: cloudfront"),
        ({"domain": "Not A Domain", "hostedZoneId": ZONE}, "domain: 'Not A Domain' is not"),
        ({"hostedZoneId": "zone-1", "domain": DOMAIN}, "hostedZoneId: 'zone-1' is not"),
        ({"httpPort": 81}, "httpPort: 81 is not a port CloudFront connects to"),
        ({"writesPerMinute": 0}, "writesPerMinute: 0 is outside 1..100000"),
        ({"readsPerMinute": "many"}, "readsPerMinute: 'many' is not a whole number"),
    ],
)
def test_edge_config_is_refused_naming_the_key(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config.parse(raw)


def test_a_bad_token_is_refused_without_repeating_it() -> None:
    with pytest.raises(ValueError, match=r"apiToken: the value \(9 characters\)") as error:
        config.parse({"apiToken": "short!tok"})
    assert "short!tok" not in str(error.value)
    assert GIVEN_TOKEN not in repr(config.parse({"apiToken": GIVEN_TOKEN}))


def test_direct_access_with_a_low_port_stays_possible() -> None:
    assert config.parse({"edge": "none", "httpPort": 81}).http_port == 81


# -- the optional Sentry DSN ---------------------------------------------------------------------
SENTRY_DSN = "https://0123456789abcdef@o1.ingest.sentry.io/42"


def _parameters(monitor: RecordingMonitor) -> dict[str, dict[str, Any]]:
    mocks = monitor.mocks
    assert isinstance(mocks, OneboxMocks)
    return {str(inputs["name"]): inputs for typ, _, inputs in mocks.declared if typ == PARAMETER}


@pulumi.runtime.test
def test_a_sentry_dsn_is_a_securestring_beside_the_token(monitor: RecordingMonitor) -> None:
    secrets = StackSecrets(
        "unit-secrets",
        SecretsArgs(
            api_token_parameter("unit"),
            origin_secret_parameter("unit"),
            with_origin_secret=False,
            sentry_dsn_parameter=sentry_dsn_parameter("unit"),
            sentry_dsn=SENTRY_DSN,
        ),
    )

    def check(name: str | None) -> None:
        assert name == "/onebox/unit/sentry-dsn"
        parameter = _parameters(monitor)[name]
        assert parameter["type"] == "SecureString" and parameter["value"] == SENTRY_DSN

    assert secrets.sentry_dsn_parameter_name is not None
    return secrets.sentry_dsn_parameter_name.apply(check)  # type: ignore[return-value]


@pulumi.runtime.test
def test_without_a_sentry_dsn_there_is_no_parameter(monitor: RecordingMonitor) -> None:
    secrets = StackSecrets(
        "unit-secrets",
        SecretsArgs(api_token_parameter("unit"), origin_secret_parameter("unit")),
    )
    assert secrets.sentry_dsn_parameter_name is None

    def check(_: str) -> None:
        assert sentry_dsn_parameter("unit") not in _parameters(monitor)

    return secrets.api_token.apply(check)  # type: ignore[return-value]


def test_the_dev_stack_has_no_sentry_parameter_by_default(dev_run: Run) -> None:
    names = {p.inputs["name"] for p in dev_run.of_type(PARAMETER)}
    assert sentry_dsn_parameter("dev") not in names
