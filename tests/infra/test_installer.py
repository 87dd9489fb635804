"""First boot, for real, with PyPI unreachable: the bootstrap, the release's installer, gunicorn.

The user-data's bootstrap (infra/files/bootstrap.sh) runs inside a temp root (ONEBOX_ROOT)
against moto_server: it reads the release parameter, downloads the real release (wheels
included) from S3, checks its sha256 and runs the release's service/deploy/install.sh. That
builds a venv with the real `python3.11 -m venv` and a real `pip install --no-index
--require-hashes` from the release's wheels, with every index unroutable. Stand-ins on PATH:
`aws` (a few lines of boto3 for the calls the scripts make; the box has the real AWS CLI), and
`dnf`, `useradd`, `systemctl`, which only record their arguments. Then gunicorn starts from that
venv exactly as onebox.service's ExecStart says, and must answer /api/health.

The release is built and installed once for the module: the first try fails at its last step
(systemctl refuses once), so the state file must name that step; the rerun must finish.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from infra import sources, userdata, wheels
from localbox.units import read_unit
from service.contract import (
    CURRENT,
    ENV_FILE,
    INSTALL_STATE,
    INSTALLER,
    VENV,
    WEB_UNIT,
    release_parameter,
    settings_parameter,
)
from tests.aws import aws_environment, moto_server
from tests.support import free_port, stop, wait_until

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
# Records its arguments; fails once when a file `<name>.fail` beside it holds the first argument.
RECORDER = """#!/bin/sh
here=$(dirname "$0"); name=$(basename "$0")
echo "$*" >> "$here/$name.calls"
if [ -e "$here/$name.fail" ] && [ "$(cat "$here/$name.fail")" = "$1" ]; then
  rm -f "$here/$name.fail"; echo "$name: refused" >&2; exit 1
fi
"""
# The CloudWatch agent's package, as recent as the logs part needs (it reads journald).
RPM = "#!/bin/sh\necho 1.300070.0\n"
CLOUDWATCH_CTL = "opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"
# The box's python3.11: this machine's base interpreter (the tests' venv is built on it).
PYTHON311 = Path(sys.base_prefix) / "bin" / "python3.11"


def _on(root: Path, box_path: str) -> Path:
    """Where a path of the box is inside the temp root."""
    return root / box_path.lstrip("/")


def _keys() -> dict[str, str]:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _publish(endpoint: str, bucket: str, archive: bytes, release: sources.BuiltRelease) -> None:
    """What `pulumi up` does before a box boots: archive, release pointer, settings."""
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **_keys())
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=release.key, Body=archive)
    ssm = boto3.client("ssm", endpoint_url=endpoint, region_name="us-east-1", **_keys())
    values = [
        (release_parameter(STACK), release.pointer.to_json()),
        (settings_parameter(STACK), userdata.settings(BOX)),
    ]
    for name, value in values:
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)


def _environment(root: Path, endpoint: str, bucket: str) -> dict[str, str]:
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


def _bootstrap(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = ["bash", str(userdata.BOOTSTRAP_SOURCE)]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _state(root: Path) -> dict[str, object]:
    state: dict[str, object] = json.loads(_on(root, INSTALL_STATE).read_text())
    return state


@dataclass
class FirstBoot:
    root: Path
    env: dict[str, str]
    release: sources.BuiltRelease
    failed: subprocess.CompletedProcess[str]
    failed_state: dict[str, object]
    finished: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """One moto_server for the module."""
    with moto_server() as url:
        yield url


@pytest.fixture(scope="module")
def first_boot(endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> FirstBoot:
    """The real release installed once: a try that fails at its last step, then the rerun."""
    if not PYTHON311.is_file():
        pytest.skip(f"no CPython 3.11 at {PYTHON311}")
    root = tmp_path_factory.mktemp("box")
    release = sources.build_release()
    _publish(endpoint, "installer-ok", release.archive, release)
    env = _environment(root, endpoint, "installer-ok")
    (root / "stubs" / "systemctl.fail").write_text("enable")  # `systemctl enable` refuses once
    failed = _bootstrap(env)
    failed_state = _state(root)
    # The unit would start the next try after its backoff; the test starts it at once.
    _on(root, "/var/lib/onebox/bootstrap-attempts").unlink()
    finished = _bootstrap(env)
    return FirstBoot(root, env, release, failed, failed_state, finished)


def test_a_failed_step_is_named_in_the_state_and_the_rerun_finishes(
    first_boot: FirstBoot,
) -> None:
    assert first_boot.failed.returncode != 0
    assert "systemctl: refused" in first_boot.failed.stderr
    state = first_boot.failed_state
    assert (state["step"], state["status"]) == ("enable", "failed")
    steps = state["steps"]
    assert isinstance(steps, dict)
    assert steps["packages"] == steps["venv"] == steps["parts"] == "done"
    assert first_boot.finished.returncode == 0, first_boot.finished.stderr
    final = _state(first_boot.root)
    assert (final["status"], final["version"]) == ("installed", first_boot.release.sha256)


def test_a_first_boot_with_pypi_unreachable_still_serves(
    first_boot: FirstBoot, tmp_path: Path
) -> None:
    root = first_boot.root
    (argv,) = read_unit(WEB_UNIT).commands("ExecStart")  # /opt/onebox/venv/bin/gunicorn ...
    assert argv[0].startswith(f"{VENV}/bin/")
    current = _on(root, CURRENT)
    env_file = dict(
        line.split("=", 1) for line in _on(root, ENV_FILE).read_text().splitlines() if line
    )
    port = free_port()
    environ = {
        **{k: v for k, v in first_boot.env.items() if not k.startswith("ONEBOX_")},
        **read_unit(WEB_UNIT).environment(),
        **env_file,
        "PWD": str(current),
        "APP_DATABASE": str(tmp_path / "onebox.db"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    command = [str(_on(root, argv[0])), *argv[1:], "--bind", f"127.0.0.1:{port}"]
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=current, env=environ, stdout=out, stderr=out, start_new_session=True
        )
    try:
        url = f"http://127.0.0.1:{port}/api/health"
        wait_until(lambda: proc.poll() is not None or _answers(url), 30, "gunicorn from the venv")
        assert proc.poll() is None, log.read_text()[-2000:]
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.status == 200
            body = json.loads(response.read())
        assert body["version"] == first_boot.release.sha256
    finally:
        stop(proc, grace=35)  # SIGTERM drains, as systemd stops it


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (loopback)
            return bool(response.status == 200)
    except OSError:
        return False


def test_the_venv_holds_exactly_the_locked_versions(first_boot: FirstBoot) -> None:
    python = _on(first_boot.root, VENV) / "bin" / "python"
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        env={"PATH": "/usr/bin:/bin", "PIP_CONFIG_FILE": os.devnull},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    installed = {wheels.normalize(i["name"]): i["version"] for i in json.loads(listed.stdout)}
    lock = (sources.REPO_ROOT / "service" / "requirements.lock").read_text()
    for pin in wheels.parse_lock(lock).values():
        assert installed.get(pin.name) == pin.version, pin.name


def test_the_installer_places_units_settings_and_the_port_then_enables_them(
    first_boot: FirstBoot,
) -> None:
    root, stubs = first_boot.root, first_boot.root / "stubs"
    assert _on(root, ENV_FILE).read_text() == userdata.settings(BOX)
    current = _on(root, CURRENT)
    assert current.resolve() == (_on(root, "/opt/onebox/releases") / first_boot.release.sha256)
    assert (current / "VERSION").read_text() == f"{first_boot.release.sha256}\n"
    units = _on(root, "/etc/systemd/system")
    assert (units / WEB_UNIT).read_text() == (current / "service/deploy" / WEB_UNIT).read_text()
    port = (units / "onebox.socket.d" / "port.conf").read_text()
    assert port == "[Socket]\nListenStream=\nListenStream=8080\n"
    assert "install -y --quiet python3.11 python3.11-pip" in (stubs / "dnf.calls").read_text()
    assert "--system" in (stubs / "useradd.calls").read_text()
    enable = (stubs / "systemctl.calls").read_text().splitlines()[-1].split()
    assert enable[:2] == ["enable", "--now"]
    assert {"onebox.socket", "onebox.service", "onebox-data.service"} <= set(enable[2:])
    assert "onebox-backup.service" not in enable  # started by its timer: no [Install]


def test_an_installed_box_skips_the_bootstrap(first_boot: FirstBoot) -> None:
    result = _bootstrap(first_boot.env)
    assert result.returncode == 0
    assert "installed already" in result.stdout


def test_the_bootstrap_refuses_an_archive_that_does_not_match_its_hash(
    endpoint: str, tmp_path: Path
) -> None:
    release = sources.build_release()
    _publish(endpoint, "installer-tampered", b"not the release", release)
    result = _bootstrap(_environment(tmp_path, endpoint, "installer-tampered"))
    assert result.returncode == 1
    assert "does not match sha256" in result.stderr
    assert not _on(tmp_path, CURRENT).exists()
    assert not _on(tmp_path, ENV_FILE).exists()


@pytest.mark.parametrize(
    ("attempts", "wait"), [("1", "10"), ("3", "40"), ("5", "160"), ("9", "300"), ("a[$(id)]", "")]
)
def test_each_retry_of_the_bootstrap_waits_longer_up_to_five_minutes(
    endpoint: str, tmp_path: Path, attempts: str, wait: str
) -> None:
    env = _environment(tmp_path, endpoint, "installer-none")  # no release parameter: it fails
    (tmp_path / "stubs" / "sleep").write_text(RECORDER)
    (tmp_path / "stubs" / "sleep").chmod(0o755)
    counter = _on(tmp_path, "/var/lib/onebox/bootstrap-attempts")
    counter.parent.mkdir(parents=True)
    counter.write_text(f"{attempts}\n")
    result = _bootstrap({**env, "ONEBOX_RELEASE_PARAMETER": "/onebox/none/release"})
    assert result.returncode != 0
    calls = tmp_path / "stubs" / "sleep.calls"
    assert (calls.read_text() if calls.exists() else "") == (f"{wait}\n" if wait else "")
    # A counter that is not a number (the service's user could write one) counts as none.
    assert counter.read_text() == f"{int(attempts) + 1 if attempts.isdigit() else 1}\n"


def test_a_settings_line_that_could_run_a_command_stops_the_install_before_root_reads_it(
    endpoint: str, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    ssm = boto3.client("ssm", endpoint_url=endpoint, region_name="us-east-1", **_keys())
    hostile = f"APP_ENV=production\ntouch {marker}\nAPP_X=$(touch {marker})\n"
    ssm.put_parameter(Name=settings_parameter("hostile"), Value=hostile, Type="String")
    env = _environment(tmp_path / "box", endpoint, "unused")
    env["ONEBOX_SETTINGS_PARAMETER"] = settings_parameter("hostile")
    installer = sources.REPO_ROOT / INSTALLER
    result = subprocess.run(
        ["bash", str(installer)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode != 0
    assert "is not NAME=value" in result.stderr
    assert (_state(tmp_path / "box")["step"], _state(tmp_path / "box")["status"]) == (
        "settings",
        "failed",
    )
    assert not marker.exists()
