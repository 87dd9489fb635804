"""Every unit in service/deploy/ passes `systemd-analyze verify`; the web unit is hardened.

verify checks that ExecStart= binaries exist, which they do only on the box; so the units are
verified inside a throwaway root (`--root=`) holding the host's own system units (targets),
the deploy files where the box gets them, and an empty executable at every Exec*= path.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from service.contract import SOCKET_UNIT
from tests.support import DEPLOY, ROOT, require_tool, unit_directives

UNIT_SUFFIXES = (".service", ".timer", ".socket")
# The host's own units (targets the deploy units name); /lib on systems without merged /usr.
HOST_UNITS = next(
    (p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if p.is_dir()),
    Path("/usr/lib/systemd/system"),
)
MAX_EXPOSURE = 1.5
UNITS = sorted(p.name for p in DEPLOY.iterdir() if p.name.endswith(UNIT_SUFFIXES))


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
    # The installer's part writes the drop-in for a port other than 80, as on the box.
    part = DEPLOY / "install.d" / "10-socket-port.sh"
    env = {"ONEBOX_ROOT": str(root), "ONEBOX_HTTP_PORT": "8080", "PATH": "/usr/bin:/bin"}
    subprocess.run([str(part)], env=env, check=True, timeout=30)
    assert (units / f"{SOCKET_UNIT}.d" / "port.conf").is_file()
    return root


def _verify(root: Path, unit: str) -> subprocess.CompletedProcess[str]:
    command = ["systemd-analyze", "verify", f"--root={root}", "--man=no", unit]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_there_are_units_to_verify() -> None:
    assert {"onebox.service", "onebox.socket"} <= set(UNITS)


@pytest.mark.parametrize("unit", UNITS)
def test_unit_passes_systemd_analyze_verify_without_a_warning(box_root: Path, unit: str) -> None:
    result = _verify(box_root, unit)
    assert result.returncode == 0, result.stderr
    # Unknown keys and unparsable values are only warnings (exit 0): any output is a finding.
    assert result.stderr.strip() == "", result.stderr
    assert result.stdout.strip() == "", result.stdout


def test_socket_with_a_port_drop_in_still_verifies(box_root: Path) -> None:
    result = _verify(box_root, SOCKET_UNIT)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


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
