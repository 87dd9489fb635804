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
import urllib.request
from pathlib import Path

import pytest

from infra import sources, userdata, wheels
from localbox.units import OFF_BOX, read_unit
from service import config
from service.contract import (
    CURRENT,
    ENV_FILE,
    VENV,
    WEB_UNIT,
)
from tests.infra.firstboot import (
    BOX,
    PYTHON311,
    FirstBoot,
    bootstrap,
    environment,
    install_state,
    on,
    publish,
)
from tests.support import free_port, stop, wait_until


@pytest.fixture(scope="module")
def first_boot(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> FirstBoot:
    """The real release installed once: a try that fails at its last step, then the rerun."""
    if not PYTHON311.is_file():
        pytest.skip(f"no CPython 3.11 at {PYTHON311}")
    root = tmp_path_factory.mktemp("box")
    release = sources.build_release()
    publish(moto_endpoint, "installer-ok", release.archive, release)
    env = environment(root, moto_endpoint, "installer-ok")
    (root / "stubs" / "systemctl.fail").write_text("enable --now")  # the last step refuses once
    failed = bootstrap(env)
    failed_state = install_state(root)
    # The unit would start the next try after its backoff; the test starts it at once.
    on(root, "/var/lib/onebox/bootstrap-attempts").unlink()
    finished = bootstrap(env)
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
    final = install_state(first_boot.root)
    assert (final["status"], final["version"]) == ("installed", first_boot.release.sha256)


def test_a_first_boot_with_pypi_unreachable_still_serves(
    first_boot: FirstBoot, tmp_path: Path
) -> None:
    root = first_boot.root
    (argv,) = read_unit(WEB_UNIT).commands("ExecStart")  # /opt/onebox/venv/bin/gunicorn ...
    assert argv[0].startswith(f"{VENV}/bin/")
    current = on(root, CURRENT)
    env_file = config.parse_env_file(on(root, ENV_FILE).read_text())
    port = free_port()
    environ = {
        **{k: v for k, v in first_boot.env.items() if not k.startswith("ONEBOX_")},
        **read_unit(WEB_UNIT).environment(),
        **env_file,
        "PWD": str(current),
        "APP_DATABASE": str(tmp_path / "onebox.db"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        **OFF_BOX,  # onebox-secrets' file; its own tests run it
    }
    command = [str(on(root, argv[0])), *argv[1:], "--bind", f"127.0.0.1:{port}"]
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
    python = on(first_boot.root, VENV) / "bin" / "python"
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
    assert on(root, ENV_FILE).read_text() == userdata.settings(BOX)
    current = on(root, CURRENT)
    assert current.resolve() == (on(root, "/opt/onebox/releases") / first_boot.release.sha256)
    assert (current / "VERSION").read_text() == f"{first_boot.release.sha256}\n"
    units = on(root, "/etc/systemd/system")
    assert (units / WEB_UNIT).read_text() == (current / "service/deploy" / WEB_UNIT).read_text()
    assert "listen 8080 default_server;" in on(root, "/etc/nginx/nginx.conf").read_text()
    assert "install -y --quiet python3.11 python3.11-pip" in (stubs / "dnf.calls").read_text()
    assert "--system" in (stubs / "useradd.calls").read_text()
    enable = (stubs / "systemctl.calls").read_text().splitlines()[-1].split()
    assert enable[:2] == ["enable", "--now"]
    assert {"onebox.socket", "onebox.service", "onebox-data.service"} <= set(enable[2:])
    assert "onebox-backup.service" not in enable  # started by its timer: no [Install]


def test_an_installed_box_skips_the_bootstrap(first_boot: FirstBoot) -> None:
    result = bootstrap(first_boot.env)
    assert result.returncode == 0
    assert "installed already" in result.stdout
