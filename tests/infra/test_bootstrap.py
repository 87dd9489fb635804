"""The bootstrap's refusals and backoff, and the installer's refusal of settings text that root
could run, against moto_server in a temp root (ONEBOX_ROOT)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import boto3
import pytest

from infra import sources
from service.contract import (
    CURRENT,
    ENV_FILE,
    INSTALLER,
    settings_parameter,
)
from tests.infra.firstboot import RECORDER, bootstrap, environment, install_state, keys, on, publish


def test_the_bootstrap_refuses_an_archive_that_does_not_match_its_hash(
    moto_endpoint: str, tmp_path: Path
) -> None:
    release = sources.build_release()
    publish(moto_endpoint, "installer-tampered", b"not the release", release)
    result = bootstrap(environment(tmp_path, moto_endpoint, "installer-tampered"))
    assert result.returncode == 1
    assert "does not match sha256" in result.stderr
    assert not on(tmp_path, CURRENT).exists()
    assert not on(tmp_path, ENV_FILE).exists()


@pytest.mark.parametrize(
    ("attempts", "wait"), [("1", "10"), ("3", "40"), ("5", "160"), ("9", "300"), ("a[$(id)]", "")]
)
def test_each_retry_of_the_bootstrap_waits_longer_up_to_five_minutes(
    moto_endpoint: str, tmp_path: Path, attempts: str, wait: str
) -> None:
    env = environment(tmp_path, moto_endpoint, "installer-none")  # no release parameter: it fails
    (tmp_path / "stubs" / "sleep").write_text(RECORDER)
    (tmp_path / "stubs" / "sleep").chmod(0o755)
    counter = on(tmp_path, "/var/lib/onebox/bootstrap-attempts")
    counter.parent.mkdir(parents=True)
    counter.write_text(f"{attempts}\n")
    result = bootstrap({**env, "ONEBOX_RELEASE_PARAMETER": "/onebox/none/release"})
    assert result.returncode != 0
    calls = tmp_path / "stubs" / "sleep.calls"
    assert (calls.read_text() if calls.exists() else "") == (f"{wait}\n" if wait else "")
    # A counter that is not a number (the service's user could write one) counts as none.
    assert counter.read_text() == f"{int(attempts) + 1 if attempts.isdigit() else 1}\n"


def test_a_settings_line_that_could_run_a_command_stops_the_install_before_root_reads_it(
    moto_endpoint: str, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    ssm = boto3.client("ssm", endpoint_url=moto_endpoint, region_name="us-east-1", **keys())
    hostile = f"APP_ENV=production\ntouch {marker}\nAPP_X=$(touch {marker})\n"
    ssm.put_parameter(Name=settings_parameter("hostile"), Value=hostile, Type="String")
    env = environment(tmp_path / "box", moto_endpoint, "unused")
    env["ONEBOX_SETTINGS_PARAMETER"] = settings_parameter("hostile")
    installer = sources.REPO_ROOT / INSTALLER
    result = subprocess.run(
        ["bash", str(installer)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode != 0
    assert "is not NAME=value" in result.stderr
    assert (install_state(tmp_path / "box")["step"], install_state(tmp_path / "box")["status"]) == (
        "settings",
        "failed",
    )
    assert not marker.exists()
