"""The service release: the content-hashed archive in the bucket and the SSM pointer to it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra.sources import BuiltRelease


@dataclass(frozen=True)
class ReleaseArgs:
    """The built archive, where it goes, and the parameter that names it."""

    release: BuiltRelease
    bucket_name: pulumi.Input[str]
    parameter_name: str
    tags: dict[str, str] = field(default_factory=dict)


class ServiceRelease(pulumi.ComponentResource):
    """The archive at `contract.release_key(sha256)` in the bucket, and the release parameter
    (`contract.release_parameter(stack)`) pointing at it."""

    version: pulumi.Output[str]
    """The release's SHA-256, also its version."""
    parameter_arn: pulumi.Output[str]
    """The ARN of the SSM parameter the box reads."""

    def __init__(self, name: str, args: ReleaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("onebox:release:ServiceRelease", name, None, opts)
        release = args.release
        archive = aws.s3.BucketObjectv2(
            f"{name}-archive",
            bucket=args.bucket_name,
            key=release.key,
            # By path, not inline: the archive (wheels included) is about 19 MB, and Pulumi
            # keeps an asset's hash in its state, not its bytes.
            source=pulumi.FileAsset(str(release.saved())),
            content_type="application/gzip",
            server_side_encryption="AES256",
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        parameter = aws.ssm.Parameter(
            f"{name}-pointer",
            name=args.parameter_name,
            type="String",
            value=release.pointer.to_json(),  # what the installer and the agent follow
            description="The onebox release the box runs (set by pulumi up)",
            tags=args.tags,
            # The pointer must never name an archive that is not uploaded yet.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[archive]),
        )
        self.version = pulumi.Output.from_input(release.sha256)
        self.parameter_arn = parameter.arn
        self.register_outputs({"version": self.version, "parameter_arn": self.parameter_arn})
