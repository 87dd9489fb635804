"""The first-boot release installer (infra/files/install-release.sh) against moto_server.

The script runs for real (bash, tar, sha256sum) inside a temp root (ONEBOX_ROOT). Two stand-ins
on PATH: `aws`, a few lines of boto3 answering the two calls the script makes (the box has the
real AWS CLI), and `python3.11`, the test's Python except that `-m venv` makes a venv whose
`pip` only records its arguments (no PyPI here).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from infra import sources, userdata
from service.contract import BOX_ROOT, CURRENT, ENV_FILE, VENV
from tests.aws import aws_environment, moto_server

PARAMETER = "/onebox/test/release"
FAKE_AWS = f"""#!{sys.executable}
import sys, boto3
args = sys.argv[1:]
if args[:2] == ["ssm", "get-parameter"]:
    name = args[args.index("--name") + 1]
    print(boto3.client("ssm").get_parameter(Name=name)["Parameter"]["Value"])
elif args[:2] == ["s3", "cp"]:
    bucket, _, key = args[-2].removeprefix("s3://").partition("/")
    boto3.client("s3").download_file(bucket, key, args[-1])
else:
    sys.exit(f"fake aws: unsupported {{args}}")
"""
FAKE_PYTHON = f"""#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  mkdir -p "$3/bin"
  printf '#!/bin/sh\\necho "$@" > "$(dirname "$0")/pip.args"\\n' > "$3/bin/pip"
  chmod +x "$3/bin/pip"
else
  exec {sys.executable} "$@"
fi
"""


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """One moto_server for the module."""
    with moto_server() as url:
        yield url


def _box(tmp_path: Path, endpoint: str, archive: bytes, bucket: str) -> dict[str, str]:
    """A temp root with the env file, stand-ins on PATH, and the release in (fake) AWS."""
    env = {**aws_environment(endpoint)}
    release = sources.build_release()
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **_keys())
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=release.key, Body=archive)
    ssm = boto3.client("ssm", endpoint_url=endpoint, region_name="us-east-1", **_keys())
    ssm.put_parameter(
        Name=PARAMETER, Value=release.pointer.to_json(), Type="String", Overwrite=True
    )
    box = userdata.BoxEnvironment("test", "us-east-1", bucket, None, 7, 7, 80)
    values = {**userdata.environment(box), "APP_RELEASE_PARAMETER": PARAMETER}
    _on(tmp_path, ENV_FILE).parent.mkdir(parents=True)
    _on(tmp_path, ENV_FILE).write_text(userdata.env_file(values))
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for name, text in (("aws", FAKE_AWS), ("python3.11", FAKE_PYTHON)):
        (stubs / name).write_text(text)
        (stubs / name).chmod(0o755)
    env.update(ONEBOX_ROOT=str(tmp_path), PATH=f"{stubs}:/usr/bin:/bin", HOME=str(tmp_path))
    return env


def _on(root: Path, box_path: str) -> Path:
    """Where a path of the box is inside the temp root."""
    return root / box_path.lstrip("/")


def _keys() -> dict[str, str]:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _install(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = ["bash", str(userdata.INSTALLER_SOURCE)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_installer_unpacks_the_pointed_release_and_switches_current(
    tmp_path: Path, endpoint: str
) -> None:
    release = sources.build_release()
    env = _box(tmp_path, endpoint, release.archive, "installer-ok")
    for _ in range(2):  # a rerun (cloud-init retry) leaves one APP_VERSION line
        result = _install(env)
        assert result.returncode == 0, result.stderr
    current = _on(tmp_path, CURRENT)
    assert current.readlink() == _on(tmp_path, BOX_ROOT) / "releases" / release.sha256
    assert (current / "VERSION").read_text() == f"{release.sha256}\n"
    assert (current / "service/web/wsgi.py").is_file()
    env_lines = _on(tmp_path, ENV_FILE).read_text().splitlines()
    assert [line for line in env_lines if line.startswith("APP_VERSION=")] == [
        f"APP_VERSION={release.sha256}"
    ]
    pip = (_on(tmp_path, VENV) / "bin/pip.args").read_text().split()
    assert "--only-binary=:all:" in pip
    assert pip[-2:] == ["-r", str(current.resolve() / "service/requirements.txt")]


def test_installer_refuses_an_archive_that_does_not_match_its_hash(
    tmp_path: Path, endpoint: str
) -> None:
    env = _box(tmp_path, endpoint, b"not the release", "installer-tampered")
    result = _install(env)
    assert result.returncode == 1
    assert "does not match sha256" in result.stderr
    assert not _on(tmp_path, CURRENT).exists()
    assert "APP_VERSION" not in _on(tmp_path, ENV_FILE).read_text()


def test_the_pointer_is_what_the_installer_reads() -> None:
    release = sources.build_release()
    assert json.loads(release.pointer.to_json()) == {
        "version": release.sha256,
        "key": release.key,
        "sha256": release.sha256,
    }
