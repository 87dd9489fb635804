"""Every unit in service/deploy/ passes `systemd-analyze verify`; the web and agent units are
hardened, and nothing that runs as root reads what the agent may write.

verify checks that ExecStart= binaries exist, which they do only on the box; so the units are
verified inside a throwaway root (`--root=`) holding the host's own system units (targets),
the deploy files where the box gets them, and an empty executable at every Exec*= path.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest

from service import config
from service.contract import (
    AGENT_USER,
    API_TOKEN_FILE,
    BACKUP_TEXTFILE_DIR,
    BACKUP_UNIT,
    BOX_ROOT,
    DATA_UNIT,
    ENV_FILE,
    NODE_EXPORTER_UNIT,
    SECRETS_DIR,
    SECRETS_TIMER,
    SECRETS_UNIT,
    WEB_UNIT,
)
from tests.support import DEPLOY, ROOT, require_tool, unit_directives, unit_environment

UNIT_SUFFIXES = (".service", ".timer", ".socket", ".path")
# The host's own units (targets the deploy units name); /lib on systems without merged /usr.
HOST_UNITS = next(
    (p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if p.is_dir()),
    Path("/usr/lib/systemd/system"),
)
MAX_EXPOSURE = 1.5
MAX_AGENT_EXPOSURE = 2.0
# Root with network (SSM) and CAP_CHOWN (the files' groups): the most any unit gets.
MAX_SECRETS_EXPOSURE = 2.0
UNITS = sorted(p.name for p in DEPLOY.iterdir() if p.name.endswith(UNIT_SUFFIXES))
# The root helpers the agent triggers through a file in its runtime directory.
HELPERS = ("onebox-reload", "onebox-restart")


def _exec_paths(unit: Path) -> set[str]:
    """The absolute programs of every Exec*= line (prefixes like '-' or '+' stripped)."""
    paths = set()
    for line in unit.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip().startswith("Exec") and value.strip():
            program = value.strip().lstrip("-@:+!").split()[0]
            if program.startswith("/"):
                paths.add(program)
    return paths


@pytest.fixture(scope="module")
def box_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A filesystem root that looks like the box to systemd-analyze."""
    require_tool("systemd-analyze")
    root = tmp_path_factory.mktemp("box")
    shutil.copytree(HOST_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    units = root / "etc/systemd/system"
    units.mkdir(parents=True)
    for path in sorted(DEPLOY.iterdir()):
        if not path.is_file():  # install.d/: the installer's parts, not units
            continue
        shutil.copy(path, units / path.name)
        for program in _exec_paths(path):
            stub = root / program.lstrip("/")
            stub.parent.mkdir(parents=True, exist_ok=True)
            stub.write_text("#!/bin/sh\n")
            stub.chmod(0o755)
    window = units / "onebox-patch.timer.d" / "window.conf"
    window.parent.mkdir()
    window.write_text("[Timer]\nOnCalendar=\nOnCalendar=Mon..Fri 02:30 UTC\n")
    return root


def _verify(root: Path, unit: str) -> subprocess.CompletedProcess[str]:
    command = ["systemd-analyze", "verify", f"--root={root}", "--man=no", unit]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_there_are_units_to_verify() -> None:
    assert {"onebox.service", "onebox.socket", "onebox-reload.path"} <= set(UNITS)


@pytest.mark.parametrize("unit", UNITS)
def test_unit_passes_systemd_analyze_verify_without_a_warning(box_root: Path, unit: str) -> None:
    result = _verify(box_root, unit)
    assert result.returncode == 0, result.stderr
    # Unknown keys and unparsable values are only warnings (exit 0): any output is a finding.
    assert result.stderr.strip() == "", result.stderr
    assert result.stdout.strip() == "", result.stdout


def _exposure(unit: str) -> float:
    require_tool("systemd-analyze")
    command = ["systemd-analyze", "security", "--offline=true", str(DEPLOY / unit)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert found, result.stdout + result.stderr
    return float(found.group(1))


def test_web_service_unit_scores_at_most_1_5_exposure() -> None:
    assert _exposure("onebox.service") <= MAX_EXPOSURE


def test_web_service_runs_as_a_dedicated_user_with_no_capabilities() -> None:
    assert unit_directives("onebox.service", "User") == ["onebox"]
    assert unit_directives("onebox.service", "CapabilityBoundingSet") == [""]
    assert unit_directives("onebox.service", "ProtectSystem") == ["strict"]
    assert unit_directives("onebox.service", "StateDirectory") == ["onebox"]
    assert unit_directives("onebox.service", "SystemCallFilter")


def test_stop_timeout_exceeds_gunicorns_graceful_timeout() -> None:
    config = (ROOT / "service" / "web" / "gunicorn.conf.py").read_text()
    found = re.search(r"^graceful_timeout\s*=\s*(\d+)", config, flags=re.MULTILINE)
    assert found, "graceful_timeout is not set in gunicorn.conf.py"
    (stop,) = unit_directives("onebox.service", "TimeoutStopSec")
    assert int(stop) > int(found.group(1))


def test_the_web_service_cannot_reach_the_instance_metadata_service() -> None:
    # The role's credentials come from there; the publisher (instance id) and the AWS clients
    # of the backup and agent units still need it, the web service never does.
    imds = urlsplit(config.defaults()["IMDS_URL"]).hostname
    (deny,) = unit_directives("onebox.service", "IPAddressDeny")
    assert imds in deny.split()
    for unit in ("onebox-publish.service", "onebox-backup.service", "onebox-agent.service"):
        assert not unit_directives(unit, "IPAddressDeny"), unit


def test_the_agent_unit_scores_at_most_2_0_exposure() -> None:
    assert _exposure("onebox-agent.service") <= MAX_AGENT_EXPOSURE


def test_the_agent_runs_as_its_own_user_with_no_capabilities() -> None:
    assert unit_directives("onebox-agent.service", "User") == [AGENT_USER]
    assert unit_directives("onebox-agent.service", "CapabilityBoundingSet") == [""]
    assert unit_directives("onebox-agent.service", "NoNewPrivileges") == ["yes"]
    (paths,) = unit_directives("onebox-agent.service", "ReadWritePaths")
    assert paths.split() == [BOX_ROOT, str(PurePosixPath(ENV_FILE).parent)]


@pytest.mark.parametrize("helper", HELPERS)
def test_each_root_helper_runs_one_fixed_systemctl_command_on_a_file_the_agent_touches(
    helper: str,
) -> None:
    (watched,) = unit_directives(f"{helper}.path", "PathModified")
    (runtime,) = unit_directives("onebox-agent.service", "RuntimeDirectory")
    assert PurePosixPath(watched).parent == PurePosixPath("/run") / runtime
    assert unit_directives("onebox-agent.service", "RuntimeDirectoryPreserve") == ["yes"]
    assert unit_directives(f"{helper}.path", "Unit") == [f"{helper}.service"]
    (command,) = unit_directives(f"{helper}.service", "ExecStart")
    program, verb, *targets = command.split()
    assert (program, verb) in {
        ("/usr/bin/systemctl", "reload"),
        ("/usr/bin/systemctl", "try-restart"),
    }
    assert WEB_UNIT in targets and all(target.startswith("onebox") for target in targets)
    for key in ("EnvironmentFile", "Environment", "ExecStartPre", "ExecStartPost"):
        assert not unit_directives(f"{helper}.service", key), (helper, key)
    assert _exposure(f"{helper}.service") <= MAX_EXPOSURE


def test_the_agents_default_reload_touches_the_file_onebox_reload_path_watches() -> None:
    (watched,) = unit_directives("onebox-reload.path", "PathModified")
    assert config.defaults()["AGENT_RELOAD_COMMAND"] == ("touch", watched)
    (command,) = unit_directives("onebox-reload.service", "ExecStart")
    assert command == f"/usr/bin/systemctl reload {WEB_UNIT}"


@pytest.mark.parametrize("unit", [u for u in UNITS if u.endswith(".service")])
def test_no_unit_that_runs_as_root_reads_the_env_file_the_agent_may_write(unit: str) -> None:
    # The agent owns /etc/onebox/onebox.env (it rewrites the settings): in a root process a
    # variable such as LD_PRELOAD or PYTHONPATH from it would be the agent's way to root.
    if unit_directives(unit, "User") in ([], ["root"]):
        assert not unit_directives(unit, "EnvironmentFile"), unit


def test_the_patch_timer_with_a_window_drop_in_still_verifies(box_root: Path) -> None:
    result = _verify(box_root, "onebox-patch.timer")
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_the_secrets_unit_scores_at_most_2_0_exposure() -> None:
    assert _exposure(SECRETS_UNIT) <= MAX_SECRETS_EXPOSURE


def test_the_secrets_unit_writes_only_its_directory_with_chown_as_its_one_capability() -> None:
    assert unit_directives(SECRETS_UNIT, "User") == []  # root: it hands files to other groups
    assert unit_directives(SECRETS_UNIT, "Type") == ["oneshot"]
    assert unit_directives(SECRETS_UNIT, "CapabilityBoundingSet") == ["CAP_CHOWN"]
    assert unit_directives(SECRETS_UNIT, "ProtectSystem") == ["strict"]
    assert not unit_directives(SECRETS_UNIT, "ReadWritePaths")
    (directory,) = unit_directives(SECRETS_UNIT, "ConfigurationDirectory")
    assert f"/etc/{directory}" == SECRETS_DIR
    assert unit_directives(SECRETS_UNIT, "ConfigurationDirectoryMode") == ["0750"]
    (command,) = unit_directives(SECRETS_UNIT, "ExecStart")
    assert command.split()[1:] == ["-m", "service.secrets"]


def test_the_secrets_run_comes_before_the_web_service_which_reads_its_token_file() -> None:
    assert WEB_UNIT in unit_directives(SECRETS_UNIT, "Before")[0].split()
    assert "nginx.service" in unit_directives(SECRETS_UNIT, "Before")[0].split()
    assert SECRETS_UNIT in " ".join(unit_directives(WEB_UNIT, "After")).split()
    assert SECRETS_UNIT in " ".join(unit_directives(WEB_UNIT, "Wants")).split()
    assert ("APP_API_TOKEN_FILE", API_TOKEN_FILE) in unit_environment(WEB_UNIT).items()
    assert unit_directives(SECRETS_TIMER, "Unit") == [SECRETS_UNIT]
    assert unit_directives(SECRETS_TIMER, "OnCalendar") == ["*-*-* *:*:00"]  # every minute


def test_the_node_exporter_unit_scores_at_most_1_5_exposure() -> None:
    assert _exposure(NODE_EXPORTER_UNIT) <= MAX_EXPOSURE


def test_node_exporter_listens_on_loopback_only_and_reads_the_backups_textfile_directory() -> None:
    (command,) = unit_directives(NODE_EXPORTER_UNIT, "ExecStart")
    program, *flags = command.split()
    assert program == "/usr/bin/node_exporter"  # SPAL's golang-github-prometheus-node-exporter
    assert "--web.listen-address=127.0.0.1:9100" in flags
    assert f"--collector.textfile.directory={BACKUP_TEXTFILE_DIR}" in flags
    assert unit_directives(NODE_EXPORTER_UNIT, "IPAddressDeny") == ["any"]
    assert unit_directives(NODE_EXPORTER_UNIT, "IPAddressAllow") == ["localhost"]


def test_node_exporter_runs_as_a_dynamic_user_with_nothing_to_write() -> None:
    assert unit_directives(NODE_EXPORTER_UNIT, "DynamicUser") == ["yes"]
    assert unit_directives(NODE_EXPORTER_UNIT, "User") == []
    assert unit_directives(NODE_EXPORTER_UNIT, "CapabilityBoundingSet") == [""]
    assert unit_directives(NODE_EXPORTER_UNIT, "ProtectSystem") == ["strict"]
    for key in ("ReadWritePaths", "StateDirectory", "EnvironmentFile"):
        assert not unit_directives(NODE_EXPORTER_UNIT, key), key


def test_the_installer_never_enables_node_exporter_its_part_does() -> None:
    # install.sh enables every unit with an [Install] section; this one is prometheus: true only.
    assert "[Install]" not in (DEPLOY / NODE_EXPORTER_UNIT).read_text().splitlines()
    part = (DEPLOY / "install.d" / "40-node-exporter.sh").read_text()
    assert f"UNIT={NODE_EXPORTER_UNIT}\n" in part


@pytest.mark.parametrize("unit", [DATA_UNIT, BACKUP_UNIT])
def test_the_backup_units_may_write_the_textfile_directory_if_it_exists(unit: str) -> None:
    assert unit_directives(unit, "ReadWritePaths") == [f"-{BACKUP_TEXTFILE_DIR}"]
