"""The edge: a CloudFront distribution in front of the box, HTTPS to viewers, the origin secret
to the box; optionally a custom domain with its ACM certificate and a Route 53 alias."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from service.contract import ORIGIN_HEADER

# AWS-managed policies (the same ids in every account). CachingDisabled: nothing of the API is
# cached. AllViewerExceptHostHeader: every viewer header (Authorization too, which CloudFront
# forwards only when caching is disabled), the query string, cookies, and CloudFront's own
# headers such as CloudFront-Viewer-Address, the client address the box rate-limits on; not the
# viewer's Host, so the origin sees its own name.
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
# CloudFront's hosted zone for alias records (the same for every distribution).
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"
ORIGIN_ID = "box"
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]


@dataclass(frozen=True)
class EdgeArgs:
    """The origin (the box's public DNS name and HTTP port), its secret, an optional domain."""

    origin_domain: pulumi.Input[str]
    http_port: int
    origin_secret: pulumi.Input[str]
    domain: str | None = None  # with hosted_zone_id: an ACM certificate and an alias record
    hosted_zone_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


class Edge(pulumi.ComponentResource):
    """HTTPS in front of the box: viewers are redirected to HTTPS (HTTP/2 and HTTP/3), nothing
    is cached, and every request reaches the origin over HTTP with ORIGIN_HEADER set."""

    domain_name: pulumi.Output[str]
    """The name viewers use: the custom domain when given, else the distribution's own."""
    distribution_id: pulumi.Output[str]
    """The distribution's id."""

    def __init__(self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("onebox:edge:Edge", name, None, opts)
        certificate_arn = self._certificate(name, args) if args.domain else None
        distribution = aws.cloudfront.Distribution(
            f"{name}-distribution",
            enabled=True,
            comment=f"onebox {name}",
            http_version="http2and3",
            is_ipv6_enabled=True,
            # North America and Europe only: the cheapest class; the free allowance covers all.
            price_class="PriceClass_100",
            aliases=[args.domain] if args.domain else None,
            origins=[self._origin(args)],
            default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
                target_origin_id=ORIGIN_ID,
                viewer_protocol_policy="redirect-to-https",
                allowed_methods=ALL_METHODS,
                cached_methods=["GET", "HEAD"],
                cache_policy_id=CACHING_DISABLED,
                origin_request_policy_id=ALL_VIEWER_EXCEPT_HOST_HEADER,
            ),
            restrictions=aws.cloudfront.DistributionRestrictionsArgs(
                geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(
                    restriction_type="none"
                )
            ),
            viewer_certificate=self._viewer_certificate(certificate_arn),
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        if args.domain and args.hosted_zone_id:
            self._alias(name, args.domain, args.hosted_zone_id, distribution)
        self.distribution_id = distribution.id
        self.domain_name = (
            pulumi.Output.from_input(args.domain) if args.domain else distribution.domain_name
        )
        self.register_outputs(
            {"domain_name": self.domain_name, "distribution_id": self.distribution_id}
        )

    @staticmethod
    def _origin(args: EdgeArgs) -> aws.cloudfront.DistributionOriginArgs:
        return aws.cloudfront.DistributionOriginArgs(
            origin_id=ORIGIN_ID,
            domain_name=args.origin_domain,
            custom_origin_config=aws.cloudfront.DistributionOriginCustomOriginConfigArgs(
                http_port=args.http_port,
                https_port=443,  # required by the API, never used: the box speaks HTTP only
                origin_protocol_policy="http-only",
                origin_ssl_protocols=["TLSv1.2"],
            ),
            custom_headers=[
                aws.cloudfront.DistributionOriginCustomHeaderArgs(
                    name=ORIGIN_HEADER, value=args.origin_secret
                )
            ],
        )

    @staticmethod
    def _viewer_certificate(
        certificate_arn: pulumi.Output[str] | None,
    ) -> aws.cloudfront.DistributionViewerCertificateArgs:
        if certificate_arn is None:
            return aws.cloudfront.DistributionViewerCertificateArgs(
                cloudfront_default_certificate=True
            )
        return aws.cloudfront.DistributionViewerCertificateArgs(
            acm_certificate_arn=certificate_arn,
            ssl_support_method="sni-only",
            minimum_protocol_version="TLSv1.2_2021",
        )

    def _certificate(self, name: str, args: EdgeArgs) -> pulumi.Output[str]:
        """An ACM certificate for the domain, DNS-validated in the user's hosted zone."""
        # CloudFront takes certificates from us-east-1 only, whatever the stack's region.
        provider = aws.Provider(
            f"{name}-us-east-1", region="us-east-1", opts=pulumi.ResourceOptions(parent=self)
        )
        certificate = aws.acm.Certificate(
            f"{name}-certificate",
            domain_name=args.domain,
            validation_method="DNS",
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )
        option = certificate.domain_validation_options[0]
        record = aws.route53.Record(
            f"{name}-validation",
            zone_id=args.hosted_zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=300,
            allow_overwrite=True,  # the same CNAME serves any certificate for this domain
            opts=pulumi.ResourceOptions(parent=self),
        )
        validation = aws.acm.CertificateValidation(
            f"{name}-certificate-validation",
            certificate_arn=certificate.arn,
            validation_record_fqdns=[record.fqdn],
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )
        return validation.certificate_arn

    def _alias(
        self, name: str, domain: str, zone: str, distribution: aws.cloudfront.Distribution
    ) -> None:
        """A and AAAA alias records of the domain to the distribution (alias queries are free)."""
        for record_type in ("A", "AAAA"):
            aws.route53.Record(
                f"{name}-alias-{record_type.lower()}",
                zone_id=zone,
                name=domain,
                type=record_type,
                aliases=[
                    aws.route53.RecordAliasArgs(
                        name=distribution.domain_name,
                        zone_id=CLOUDFRONT_ZONE_ID,
                        evaluate_target_health=False,
                    )
                ],
                opts=pulumi.ResourceOptions(parent=self),
            )
