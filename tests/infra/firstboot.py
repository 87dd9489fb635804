"""What the first-boot tests share: stand-ins for the box's tools and a way to run the bootstrap
in a temp root (ONEBOX_ROOT) against moto_server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import boto3

from infra import sources, userdata
from service.contract import (
    INSTALL_STATE,
    release_parameter,
    settings_parameter,
)
from tests.aws import aws_environment

STACK = "test"
BOX = userdata.BoxEnvironment(STACK, "us-east-1", "installer-ok", None, 7, 7, 8080)
UNROUTABLE_INDEX = "http://127.0.0.1:9/simple"  # discard port: nothing answers
FAKE_AWS = f"""#!{sys.executable}
import json, sys, boto3
args = sys.argv[1:]
if args[:2] == ["ssm", "get-parameter"]:
    name = args[args.index("--name") + 1]
    value = boto3.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
    print(json.dumps(value) if args[args.index("--output") + 1] == "json" else value)
elif args[:2] == ["s3", "cp"]:
    bucket, _, key = args[-2].removeprefix("s3://").partition("/")
    boto3.client("s3").download_file(bucket, key, args[-1])
else:
    sys.exit(f"fake aws: unsupported {{args}}")
"""
# Records its arguments; fails once when a file `<name>.fail` beside it holds its first two.
RECORDER = """#!/bin/sh
here=$(dirname "$0"); name=$(basename "$0")
echo "$*" >> "$here/$name.calls"
if [ -e "$here/$name.fail" ] && [ "$(cat "$here/$name.fail")" = "$1 $2" ]; then
  rm -f "$here/$name.fail"; echo "$name: refused" >&2; exit 1
fi
"""
# The CloudWatch agent's package, as recent as the logs part needs (it reads journald).
RPM = "#!/bin/sh\necho 1.300070.0\n"
CLOUDWATCH_CTL = "opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"
# The box's python3.11: this machine's base interpreter (the tests' venv is built on it).
PYTHON311 = Path(sys.base_prefix) / "bin" / "python3.11"


def on(root: Path, box_path: str) -> Path:
    """Where a path of the box is inside the temp root."""
    return root / box_path.lstrip("/")


def keys() -> dict[str, str]:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def publish(endpoint: str, bucket: str, archive: bytes, release: sources.BuiltRelease) -> None:
    """What `pulumi up` does before a box boots: archive, release pointer, settings."""
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **keys())
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=release.key, Body=archive)
    ssm = boto3.client("ssm", endpoint_url=endpoint, region_name="us-east-1", **keys())
    values = [
        (release_parameter(STACK), release.pointer.to_json()),
        (settings_parameter(STACK), userdata.settings(BOX)),
    ]
    for name, value in values:
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)


def environment(root: Path, endpoint: str, bucket: str) -> dict[str, str]:
    """A clean environment: the bootstrap's facts, AWS at moto, pip with no index to reach."""
    stubs = root / "stubs"
    stubs.mkdir(parents=True)
    (stubs / "aws").write_text(FAKE_AWS)
    for name in ("dnf", "useradd", "systemctl"):
        (stubs / name).write_text(RECORDER)
    (stubs / "rpm").write_text(RPM)
    ctl = root / CLOUDWATCH_CTL
    ctl.parent.mkdir(parents=True)
    ctl.write_text(RECORDER)
    ctl.chmod(0o755)
    for path in stubs.iterdir():
        path.chmod(0o755)
    (stubs / "python3.11").symlink_to(PYTHON311)
    box = userdata.BoxFacts(STACK, "us-east-1", bucket, 8080, sources.base_digest())
    facts = userdata.bootstrap_environment(box)
    return {
        **aws_environment(endpoint),
        **facts,
        "ONEBOX_ROOT": str(root),
        "PATH": f"{stubs}:/usr/bin:/bin",
        "HOME": str(root),
        "LANG": "C.UTF-8",
        "PIP_CONFIG_FILE": os.devnull,  # no pip.conf of this machine (find-links, mirrors)
        "PIP_INDEX_URL": UNROUTABLE_INDEX,
        "PIP_DEFAULT_TIMEOUT": "2",
    }


def bootstrap(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = ["bash", str(userdata.BOOTSTRAP_SOURCE)]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def install_state(root: Path) -> dict[str, object]:
    state: dict[str, object] = json.loads(on(root, INSTALL_STATE).read_text())
    return state


@dataclass
class FirstBoot:
    root: Path
    env: dict[str, str]
    release: sources.BuiltRelease
    failed: subprocess.CompletedProcess[str]
    failed_state: dict[str, object]
    finished: subprocess.CompletedProcess[str]
