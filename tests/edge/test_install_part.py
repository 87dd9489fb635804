"""The install part that puts nginx in front (install.d/30-nginx.sh), run with stand-ins for dnf
and systemctl under ONEBOX_ROOT, and its nginx.service drop-in beside AL2023's unit."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from service.contract import NGINX_RELOAD_PATH, NGINX_RELOAD_UNIT, ORIGIN_MAP_FILE, UNITS
from tests.infra.test_units import HOST_UNITS
from tests.support import DEPLOY, require_tool, stub_programs, unit_directives

PART = DEPLOY / "install.d" / "30-nginx.sh"
DROP_IN = DEPLOY / "nginx" / "nginx.service.conf"
RECORDER = '#!/bin/sh\necho "$(basename "$0") $*" >> "$CALLS"\n'
# AL2023's nginx.service (the nginx-core package), for systemd-analyze verify.
NGINX_UNIT = """[Unit]
Description=The nginx HTTP and reverse proxy server
After=network-online.target remote-fs.target nss-lookup.target
Wants=network-online.target

[Service]
Type=forking
PIDFile=/run/nginx.pid
ExecStartPre=/usr/bin/rm -f /run/nginx.pid
ExecStartPre=/usr/sbin/nginx -t
ExecStart=/usr/sbin/nginx
ExecReload=/usr/sbin/nginx -s reload
KillSignal=SIGQUIT
TimeoutStopSec=5
KillMode=mixed
PrivateTmp=true

[Install]
WantedBy=multi-user.target
"""


def run_part(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    stubs = tmp_path / "stubs"
    stubs.mkdir(exist_ok=True)
    for name in ("dnf", "systemctl"):
        (stubs / name).write_text(RECORDER)
        (stubs / name).chmod(0o755)
    environ = {
        "PATH": f"{stubs}:/usr/bin:/bin",
        "ONEBOX_ROOT": str(tmp_path / "root"),
        "CALLS": str(tmp_path / "calls"),
        **env,
    }
    return subprocess.run(
        [str(PART)], env=environ, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_part_installs_nginx_renders_its_config_and_starts_it(tmp_path: Path) -> None:
    result = run_part(tmp_path, ONEBOX_HTTP_PORT="8080", APP_MAX_BODY_BYTES="2048")
    assert result.returncode == 0, result.stderr
    root = tmp_path / "root"
    conf = (root / "etc/nginx/nginx.conf").read_text()
    assert "listen 8080 default_server;" in conf and "client_max_body_size 2048;" in conf
    assert (root / "etc/systemd/system/nginx.service.d/onebox.conf").read_text() == (
        DROP_IN.read_text()
    )
    assert (root / "usr/local/libexec/onebox/nginx/render.py").stat().st_mode & 0o777 == 0o644
    # No secret yet: a map that trusts nobody, readable by root alone.
    origin = root / ORIGIN_MAP_FILE.lstrip("/")
    assert "default 0;" in origin.read_text() and " 1;" not in origin.read_text()
    assert origin.stat().st_mode & 0o777 == 0o600
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[0] == "dnf --assumeyes --quiet install nginx"
    assert calls[-2:] == [
        "systemctl enable nginx.service",
        "systemctl reload-or-restart nginx.service",
    ]


def test_the_part_keeps_the_secrets_units_map_and_refuses_a_bad_setting(tmp_path: Path) -> None:
    origin = tmp_path / "root" / ORIGIN_MAP_FILE.lstrip("/")
    origin.parent.mkdir(parents=True)
    origin.write_text("written by the secrets unit\n")
    result = run_part(tmp_path, APP_RATE_READS_PER_MINUTE="lots")
    assert result.returncode != 0
    assert "APP_RATE_READS_PER_MINUTE='lots'" in result.stderr
    assert origin.read_text() == "written by the secrets unit\n"
    assert "enable" not in (tmp_path / "calls").read_text()


def test_settings_changes_reload_nginx_through_a_one_command_root_helper() -> None:
    assert {NGINX_RELOAD_PATH, NGINX_RELOAD_UNIT} <= set(UNITS)
    assert unit_directives(NGINX_RELOAD_PATH, "PathChanged") == ["/etc/onebox/onebox.env"]
    assert unit_directives(NGINX_RELOAD_UNIT, "ExecStart") == [
        "/usr/bin/systemctl try-reload-or-restart nginx.service"
    ]
    # nginx renders on reload, from the settings: the drop-in says so.
    reload = unit_directives("nginx/nginx.service.conf", "ExecReload")
    assert reload[0] == "" and "render.py" in reload[1] and reload[-1].endswith("$MAINPID")


def test_the_drop_in_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = require_tool("systemd-analyze")
    shutil.copytree(HOST_UNITS, tmp_path / "usr/lib/systemd/system", symlinks=True)
    units = tmp_path / "etc/systemd/system"
    (units / "nginx.service.d").mkdir(parents=True)
    (units / "nginx.service").write_text(NGINX_UNIT)
    (units / "nginx.service.d" / "onebox.conf").write_text(DROP_IN.read_text())
    for name in ("onebox.socket",):
        (units / name).write_text((DEPLOY / name).read_text())
    stub_programs(tmp_path, "usr/bin/rm", "usr/sbin/nginx", "usr/bin/python3", "bin/kill")
    command = [analyze, "verify", f"--root={tmp_path}", "--man=no", "nginx.service"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    findings = [line for line in result.stderr.splitlines() if "nginx" in line]
    assert findings == [], result.stderr


@pytest.mark.parametrize("key", ["ExecStartPre", "ExecReload"])
def test_the_drop_in_replaces_the_packages_commands_rather_than_adding_to_them(key: str) -> None:
    values = unit_directives("nginx/nginx.service.conf", key)
    assert values[0] == ""  # the package's list is cleared, so rendering comes before -t
    programs = [value.split()[0] for value in values[1:]]
    assert programs.index("/usr/bin/python3") < programs.index("/usr/sbin/nginx")
