"""The backups bucket: private, encrypted, versioned, TLS-only, and kept when the stack goes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra import policies


@dataclass(frozen=True)
class BackupBucketArgs:
    """How long replaced or deleted object versions stay recoverable."""

    noncurrent_days: int
    tags: dict[str, str] = field(default_factory=dict)


class BackupBucket(pulumi.ComponentResource):
    """An S3 bucket for backups/ and releases/ that `pulumi destroy` leaves in place."""

    bucket_name: pulumi.Output[str]
    """The bucket's name (generated, unique)."""
    bucket_arn: pulumi.Output[str]
    """The bucket's ARN."""

    def __init__(
        self, name: str, args: BackupBucketArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("onebox:bucket:BackupBucket", name, None, opts)
        # retain_on_delete: `pulumi destroy` must never delete backups; the configuration
        # resources are retained too, so the kept bucket stays private, encrypted and versioned.
        keep = pulumi.ResourceOptions(parent=self, retain_on_delete=True)
        bucket = aws.s3.Bucket(f"{name}", bucket_prefix=f"{name}-", tags=args.tags, opts=keep)
        self.bucket_name, self.bucket_arn = bucket.bucket, bucket.arn
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=keep,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=keep,
        )
        # SSE-S3 (AES256): encrypted at rest without a KMS key's monthly fee.
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=keep,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=keep,
        )
        self._lifecycle(name, bucket, args, keep, versioning)
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.id,
            policy=bucket.arn.apply(lambda arn: json.dumps(policies.tls_only_bucket_policy(arn))),
            opts=keep,
        )
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn})

    def _lifecycle(
        self,
        name: str,
        bucket: aws.s3.Bucket,
        args: BackupBucketArgs,
        keep: pulumi.ResourceOptions,
        versioning: aws.s3.BucketVersioning,
    ) -> None:
        # Only noncurrent versions expire: no rule touches a current object, so the newest
        # backup is never deleted by S3 (retention of current backups is the backup job's).
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                {
                    "id": "expire-noncurrent-versions-and-abort-uploads",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "noncurrent_version_expiration": {"noncurrent_days": args.noncurrent_days},
                    # Only delete markers with no version left behind them: retention leaves
                    # one per pruned backup, and they would pile up and slow every listing.
                    "expiration": {"expired_object_delete_marker": True},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
                }
            ],
            opts=pulumi.ResourceOptions.merge(
                keep, pulumi.ResourceOptions(depends_on=[versioning])
            ),
        )
