"""Components on their own, with the SDK's mocks and `@pulumi.runtime.test`.

The whole-program tests resolve every output before asserting; these build one component
directly, so their asserts run inside `apply()` and the decorator makes a failure count.
"""

from __future__ import annotations

import pulumi

from infra.bucket import BackupBucket, BackupBucketArgs
from infra.mocks import RecordingMonitor
from infra.release import ReleaseArgs, ServiceRelease
from infra.sources import build_release


@pulumi.runtime.test
def test_backup_bucket_exposes_its_generated_name_and_arn(monitor: RecordingMonitor) -> None:
    bucket = BackupBucket("unit-backups", BackupBucketArgs(noncurrent_days=3))

    def check(values: list[str]) -> None:
        name, arn = values
        assert name.startswith("unit-backups-")
        assert arn == f"arn:aws:s3:::{name}"
        assert monitor.options[("aws:s3/bucket:Bucket", "unit-backups")]["retain_on_delete"]

    return pulumi.Output.all(bucket.bucket_name, bucket.bucket_arn).apply(check)  # type: ignore[return-value]


@pulumi.runtime.test
def test_release_reports_its_hash_as_its_version(monitor: RecordingMonitor) -> None:
    release = build_release()
    component = ServiceRelease(
        "unit-release", ReleaseArgs(release, "bucket", "/onebox/unit/release")
    )

    def check(values: list[str]) -> None:
        version, parameter_arn = values
        assert version == release.sha256
        assert parameter_arn.endswith(":parameter/onebox/unit/release")

    return pulumi.Output.all(component.version, component.parameter_arn).apply(check)  # type: ignore[return-value]
