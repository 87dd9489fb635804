"""node_exporter on the box (prometheus: true): install.d/40-node-exporter.sh, run with
stand-ins for dnf, chown, systemctl and sleep on PATH in a scratch root (ONEBOX_ROOT)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from service.contract import BACKUP_TEXTFILE_DIR, NODE_EXPORTER_UNIT
from tests.support import DEPLOY, run_part
from tests.support import calls as recorded

PART = DEPLOY / "install.d" / "40-node-exporter.sh"
BINARY = "usr/bin/node_exporter"
RECORDER = '#!/bin/bash\necho "$(basename "$0") $*" >> "$CALLS"\n'
# dnf that records its call, fails for $FAIL_PACKAGE, and "installs" the binary (unless
# $NO_BINARY).
DNF = """#!/bin/bash
echo "dnf $*" >> "$CALLS"
case " $* " in *" $FAIL_PACKAGE "*) exit 1 ;; esac
[ -n "$NO_BINARY" ] && exit 0
case " $* " in *" golang-github-prometheus-node-exporter "*)
  mkdir -p "$ONEBOX_ROOT/usr/bin" && printf '#!/bin/sh\\n' > "$ONEBOX_ROOT/usr/bin/node_exporter"
  chmod 0755 "$ONEBOX_ROOT/usr/bin/node_exporter" ;; esac
"""


def _install(
    root: Path, prometheus: str, fail_package: str = "-", no_binary: str = ""
) -> subprocess.CompletedProcess[str]:
    stand_ins = {"dnf": DNF, "chown": RECORDER, "systemctl": RECORDER, "sleep": RECORDER}
    return run_part(
        PART,
        root,
        stand_ins,
        FAIL_PACKAGE=fail_package,
        NO_BINARY=no_binary,
        APP_PROMETHEUS=prometheus,
    )


def _textfile_dir(root: Path) -> Path:
    return root / BACKUP_TEXTFILE_DIR.lstrip("/")


@pytest.mark.parametrize("prometheus", ["false", ""])
def test_with_prometheus_off_nothing_is_installed_or_enabled(
    tmp_path: Path, prometheus: str
) -> None:
    result = _install(tmp_path, prometheus)
    assert result.returncode == 0, result.stderr
    assert recorded(tmp_path) == []
    assert not _textfile_dir(tmp_path).exists()


def test_with_prometheus_on_spal_then_node_exporter_are_installed_and_the_unit_enabled(
    tmp_path: Path,
) -> None:
    result = _install(tmp_path, "true")
    assert result.returncode == 0, result.stderr
    textfiles = _textfile_dir(tmp_path)
    assert recorded(tmp_path) == [
        "dnf --assumeyes --quiet install spal-release",
        "dnf --assumeyes --quiet install golang-github-prometheus-node-exporter",
        f"chown onebox:onebox {textfiles}",
        "systemctl daemon-reload",
        f"systemctl add-wants multi-user.target {NODE_EXPORTER_UNIT}",
        f"systemctl restart {NODE_EXPORTER_UNIT}",
    ]
    # The backup units (user onebox) write it; node_exporter's dynamic user reads it.
    assert textfiles.is_dir() and textfiles.stat().st_mode & 0o777 == 0o755
    assert "127.0.0.1:9100" in result.stdout


@pytest.mark.parametrize("package", ["spal-release", "golang-github-prometheus-node-exporter"])
def test_a_failing_dnf_is_tried_three_times_then_fails_the_part_naming_the_package(
    tmp_path: Path, package: str
) -> None:
    result = _install(tmp_path, "true", fail_package=package)
    assert result.returncode == 1
    assert f"40-node-exporter: dnf install {package} failed 3 times" in result.stderr
    calls = recorded(tmp_path)
    assert calls.count(f"dnf --assumeyes --quiet install {package}") == 3
    assert [c for c in calls if c.startswith("sleep")] == ["sleep 10", "sleep 20"]
    assert not [c for c in calls if c.startswith("systemctl")]


def test_a_package_without_the_binary_fails_the_part_naming_it(tmp_path: Path) -> None:
    result = _install(tmp_path, "true", no_binary="yes")
    assert result.returncode == 1
    assert f"did not install /{BINARY}" in result.stderr
    assert not [c for c in recorded(tmp_path) if c.startswith("systemctl")]


def test_the_part_and_its_unit_name_the_contracts_textfile_directory() -> None:
    assert f"TEXTFILE_DIR={BACKUP_TEXTFILE_DIR}  #" in PART.read_text()


def test_the_part_is_executable() -> None:
    assert os.access(PART, os.X_OK)
