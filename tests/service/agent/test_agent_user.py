"""The installer part that makes the agent's user and hands it what it owns, run for real.

`service/deploy/install.d/20-agent-user.sh` runs in a temp root (ONEBOX_ROOT) with the real
systemd-sysusers. `chown` is wrapped to record its arguments, so the test reads what was handed
over even where it cannot change owners (not root); as root the real chown runs too.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from service.contract import AGENT_UNIT, AGENT_USER, BOX_ROOT, CURRENT, ENV_FILE, VENV
from tests.support import DEPLOY, require_tool, unit_directives

PART = DEPLOY / "install.d" / "20-agent-user.sh"
USER = AGENT_USER
RECORDING_CHOWN = """#!/bin/sh
echo "$*" >> "$CHOWN_LOG"
if [ "$(id -u)" = 0 ]; then exec {chown} "$@"; fi
"""


def _on(root: Path, box_path: str) -> Path:
    return root / box_path.lstrip("/")


@pytest.fixture
def box(tmp_path: Path) -> Path:
    """A root as the installer leaves it before this part: a release, `current`, the venv."""
    require_tool("systemd-sysusers")
    root = tmp_path / "root"
    release = _on(root, BOX_ROOT) / "releases" / "abc"
    (release / "service").mkdir(parents=True)
    (release / "service" / "__init__.py").write_text("")
    _on(root, CURRENT).symlink_to(Path("releases") / "abc")
    _on(root, VENV).mkdir()
    _on(root, ENV_FILE).parent.mkdir(parents=True)
    _on(root, ENV_FILE).write_text("APP_ENV=production\n")
    (_on(root, BOX_ROOT) / "agent-state.json").write_text('{"failed": []}\n')
    return root


def _run(root: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    stubs = tmp_path / "stubs"
    stubs.mkdir(exist_ok=True)
    chown = stubs / "chown"
    chown.write_text(RECORDING_CHOWN.format(chown=shutil.which("chown")))
    chown.chmod(0o755)
    env = {
        "ONEBOX_ROOT": str(root),
        "PATH": f"{stubs}:/usr/bin:/bin:/usr/sbin:/sbin",
        "CHOWN_LOG": str(tmp_path / "chown.log"),
    }
    return subprocess.run(
        ["bash", str(PART)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _ids(root: Path) -> str:
    passwd = _on(root, "/etc/passwd").read_text().splitlines()
    (entry,) = [line for line in passwd if line.startswith(f"{USER}:")]
    _, _, uid, gid, _, _, shell = entry.split(":")
    assert shell.endswith("/nologin")
    return f"{uid}:{gid}"


def test_the_part_is_an_executable_installer_part() -> None:
    assert os.access(PART, os.X_OK)
    assert PART.read_text().startswith("#!/bin/bash\n")


def test_the_part_creates_the_user_the_agent_unit_runs_as(box: Path, tmp_path: Path) -> None:
    assert unit_directives(AGENT_UNIT, "User") == [USER]
    result = _run(box, tmp_path)
    assert result.returncode == 0, result.stderr
    ids = _ids(box)
    assert f"{USER}:x:{ids.split(':')[1]}:" in _on(box, "/etc/group").read_text()


def test_a_second_run_changes_nothing(box: Path, tmp_path: Path) -> None:
    assert _run(box, tmp_path).returncode == 0
    passwd, group = _on(box, "/etc/passwd").read_text(), _on(box, "/etc/group").read_text()
    result = _run(box, tmp_path)
    assert result.returncode == 0, result.stderr
    assert _on(box, "/etc/passwd").read_text() == passwd
    assert _on(box, "/etc/group").read_text() == group


def test_the_agent_owns_its_releases_current_state_and_the_env_file(
    box: Path, tmp_path: Path
) -> None:
    assert _run(box, tmp_path).returncode == 0
    ids = _ids(box)
    gid = ids.split(":")[1]
    handed = (tmp_path / "chown.log").read_text().splitlines()
    onebox = _on(box, BOX_ROOT)
    assert f"0:{gid} {onebox}" in handed
    assert f"-R {ids} {onebox / 'releases'}" in handed
    assert f"-h {ids} {onebox / 'current'}" in handed
    assert f"-h {ids} {onebox / 'agent-state.json'}" in handed
    assert f"{ids} {_on(box, ENV_FILE).parent}" in handed
    assert f"{ids} {_on(box, ENV_FILE)}" in handed
    # Never the venv: the agent must not change the interpreter root's units run.
    assert not [line for line in handed if "venv" in line]
    assert stat.S_IMODE(onebox.stat().st_mode) == 0o1775
    assert stat.S_IMODE(_on(box, ENV_FILE).stat().st_mode) == 0o640
    if os.geteuid() == 0:
        uid, gid_number = (int(part) for part in ids.split(":"))
        assert (onebox.stat().st_uid, onebox.stat().st_gid) == (0, gid_number)
        assert _on(box, CURRENT).lstat().st_uid == uid
        assert (onebox / "releases" / "abc" / "service").stat().st_uid == uid
        assert _on(box, VENV).stat().st_uid == 0
