"""The rendered user-data: valid cloud-config, small enough, and built from plain data."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from infra import sources, userdata
from infra.mocks import Run
from service import config
from service.agent.settings import AgentSettings
from service.contract import (
    ENV_FILE,
    SOCKET_UNIT,
    SYSTEMD_DIR,
    UNITS,
    metrics_namespace,
    release_parameter,
)
from tests.infra.helpers import instance_inputs, user_data, user_data_text
from tests.support import require_tool

BOX = userdata.BoxEnvironment("dev", "us-east-1", "bucket-1", None, 7, 7, 80)


@pytest.mark.parametrize("variant", ["dev_run", "admin_run"])
def test_rendered_user_data_passes_cloud_init_schema(
    variant: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    cloud_init = require_tool("cloud-init")
    path = tmp_path / "user-data.yaml"
    path.write_text(user_data_text(request.getfixturevalue(variant)))
    command = [cloud_init, "schema", "--config-file", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid cloud-config" in result.stdout


def test_user_data_is_under_the_16_kib_limit(admin_run: Run) -> None:
    raw = instance_inputs(admin_run)["userDataBase64"]
    assert len(base64.b64decode(raw)) < userdata.USER_DATA_LIMIT


def test_oversized_user_data_is_refused_naming_its_size() -> None:
    noise = "".join(f"{n:x}" * 7 for n in range(30_000))
    with pytest.raises(ValueError, match=r"user-data: \d+ bytes gzipped is over 16384"):
        userdata.encode(noise)


def test_box_installs_python_3_11_and_the_release_first(dev_run: Run) -> None:
    document = user_data(dev_run)
    assert document["packages"] == ["python3.11", "python3.11-pip"]
    assert document["runcmd"][0] == [userdata.INSTALLER]
    assert document["runcmd"][1] == ["systemctl", "daemon-reload"]
    (user,) = [entry for entry in document["users"] if isinstance(entry, dict)]
    assert user["name"] == "onebox" and user["system"] is True


def test_release_installer_is_valid_bash(tmp_path: Path) -> None:
    bash = require_tool("bash")
    result = subprocess.run([bash, "-n", str(userdata.INSTALLER_SOURCE)], check=False)
    assert result.returncode == 0


def test_units_to_enable_are_sockets_timers_and_installable_plain_services() -> None:
    units = {
        "a.service": "[Service]\nExecStart=/x\n[Install]\nWantedBy=multi-user.target\n",
        "b.service": "[Service]\nExecStart=/x\n",  # started by its timer: no [Install]
        "b.timer": "[Timer]\nOnCalendar=*:0/5\n[Install]\nWantedBy=timers.target\n",
        "c@.service": "[Service]\nExecStart=/x %i\n[Install]\nWantedBy=multi-user.target\n",
        "d.socket": "[Socket]\nListenStream=80\n[Install]\nWantedBy=sockets.target\n",
        "gunicorn.conf": "not a unit\n[Install]\n",
    }
    assert userdata.units_to_enable(units) == ["a.service", "b.timer", "d.socket"]


def test_every_deploy_unit_with_an_install_section_is_enabled() -> None:
    files = sources.deploy_files()
    enabled = set(userdata.units_to_enable(files))
    for name, text in files.items():
        installable = "[Install]" in text and "@" not in name
        if name.endswith((".socket", ".timer", ".service")) and installable:
            assert name in enabled


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("app_env", "x", "'app_env' is not a valid variable name"),
        ("APP_X", "two words", "APP_X='two words' has characters that need quoting"),
        ("APP_X", "a\nAPP_Y=b", "has characters that need quoting"),
    ],
)
def test_env_file_refuses_what_would_need_quoting(name: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        userdata.env_file({name: value})


def test_restore_bucket_defaults_to_the_backup_bucket() -> None:
    assert userdata.environment(BOX)["APP_RESTORE_BUCKET"] == "bucket-1"


def test_port_80_needs_no_socket_drop_in() -> None:
    assert userdata.socket_drop_in(80) is None
    assert userdata.socket_drop_in(8080) == "[Socket]\nListenStream=\nListenStream=8080\n"


def test_rendering_is_deterministic() -> None:
    installer = userdata.INSTALLER_SOURCE.read_text()
    env = userdata.environment(BOX)
    first = userdata.encode(userdata.render(sources.deploy_files(), env, installer, 80))
    second = userdata.encode(userdata.render(sources.deploy_files(), env, installer, 80))
    assert first == second


def test_the_env_file_and_units_go_where_the_contract_says() -> None:
    document = userdata.cloud_config(sources.deploy_files(), userdata.environment(BOX), "", 8080)
    paths = {entry["path"] for entry in document["write_files"]}
    assert ENV_FILE in paths
    assert {f"{SYSTEMD_DIR}/{unit}" for unit in UNITS} <= paths
    assert f"{SYSTEMD_DIR}/{SOCKET_UNIT}.d/port.conf" in paths


def test_every_process_on_the_box_accepts_the_environment_the_infra_writes() -> None:
    env = userdata.environment(BOX)
    assert set(env) - {"AWS_REGION"} <= {setting.env for setting in config.SETTINGS}
    agent = AgentSettings.from_config(config.from_environ(env))
    assert agent.parameter == release_parameter("dev")
    assert agent.bucket == "bucket-1"
    assert env["APP_METRICS_NAMESPACE"] == metrics_namespace("dev")
