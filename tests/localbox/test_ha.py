"""`make local TOPOLOGY=ha`: two boxes on one PostgreSQL behind nginx standing in for the ALB.

They need nginx and PostgreSQL's binaries: skipped without them, failed without them under CI.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from localbox.ha import Layout, missing
from localbox.processes import http_status
from localbox.units import ROOT
from service.contract import PUBLISH_UNIT, WEB_UNIT
from service.publish.scrape import unix_request
from tests.support import answers, free_port, start_make, stop, wait_until

pytestmark = pytest.mark.slow
BOXES = (1, 2)


def require_nginx_and_postgres() -> None:
    """Skip without nginx or PostgreSQL's binaries; fail under CI, which installs both."""
    problem = missing()
    if problem is None:
        return
    message = f"{problem} (.ci/run installs nginx and postgresql)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Topology:
    proc: subprocess.Popen[bytes]
    port: int
    state: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def socket(self, box: int) -> str:
        return str(Layout(self.state).socket(box))

    def pid(self, box: int, unit: str = WEB_UNIT) -> int:
        return int(Layout(self.state).pid_file(box, unit).read_text())

    def answered_by(self) -> set[str]:
        """The sockets that answered a request, from the balancer's access log."""
        lines = Layout(self.state).access_log.read_text().splitlines()
        return {json.loads(line)["upstream"].removeprefix("unix:") for line in lines}

    def serving(self) -> bool:
        return self.proc.poll() is not None or answers(f"{self.url}/api/health/ready")


def scratch() -> Path:
    """A folder PostgreSQL (which runs as `postgres` under root) can enter: not tmp_path (0700)."""
    folder = Path(tempfile.mkdtemp(prefix="onebox-ha-test-"))
    folder.chmod(0o755)
    return folder


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "AWS_"))}


def patch(url_or_socket: str, user: str, device: str) -> int:
    """PATCH a user's device through the balancer (a URL) or one box (its socket)."""
    body = json.dumps({"deviceId": device, "deviceLabel": "test"}).encode()
    path = f"/api/users/{user}/device"
    if url_or_socket.startswith("http"):
        request = urllib.request.Request(  # noqa: S310 (loopback)
            url_or_socket + path,
            data=body,
            headers={"Content-Type": "application/json"},
            method="PATCH",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            return int(response.status)
    return unix_request(url_or_socket, "PATCH", path, body)[0]


def read_device(socket: str, user: str) -> object:
    status, body = unix_request(socket, "GET", f"/api/users/{user}/state")
    assert status == 200, body
    return json.loads(body)["deviceId"]


@pytest.fixture(scope="module")
def made() -> Iterator[Topology]:
    """`make local TOPOLOGY=ha`, as a reader types it; stopped by Ctrl-C's SIGINT."""
    require_nginx_and_postgres()
    folder = scratch()
    port = free_port()
    log = folder / "local.log"
    proc = start_make("local", log, clean_env(), f"PORT={port}", f"STATE={folder / 'ha'}",
                      "TOPOLOGY=ha")  # fmt: skip
    topology = Topology(proc, port, folder / "ha", log)
    try:
        wait_until(topology.serving, timeout=120, what="make local TOPOLOGY=ha to serve")
        assert proc.poll() is None, log.read_text()[-3000:]
        yield topology
    finally:
        stop(proc, grace=120, signum=signal.SIGINT, whole_group=True)
        shutil.rmtree(folder, ignore_errors=True)


def test_the_balancer_serves_and_both_boxes_take_traffic(made: Topology) -> None:
    for _ in range(20):
        assert http_status(f"{made.url}/api/health") == 200
    assert made.answered_by() >= {made.socket(n) for n in BOXES}
    with urllib.request.urlopen(f"{made.url}/api/health", timeout=10) as response:  # noqa: S310
        assert json.loads(response.read())["database"]["type"] == "PostgreSQL"
    output = made.log.read_text()
    assert "RDS" in output  # it says why there are no backup units


def test_a_write_through_one_box_is_read_through_the_other(made: Topology) -> None:
    assert patch(made.socket(1), "ha-across", "written-on-box-1") == 200
    assert read_device(made.socket(2), "ha-across") == "written-on-box-1"
    assert patch(made.socket(2), "ha-across", "written-on-box-2") == 200
    assert read_device(made.socket(1), "ha-across") == "written-on-box-2"


def test_with_a_box_killed_every_request_succeeds_after_a_while_and_ctrl_c_stops_all() -> None:
    require_nginx_and_postgres()
    folder = scratch()
    port = free_port()
    state = folder / "ha"
    command = [
        sys.executable,
        "-m",
        "localbox",
        "--topology",
        "ha",
        "--port",
        str(port),
        "--state",
        str(state),
        "--replace-after",
        "600",
    ]  # fmt: skip  (stays lost)
    log = folder / "ha.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=clean_env(), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    topology = Topology(proc, port, state, log)
    try:
        wait_until(topology.serving, timeout=120, what="the ha topology to serve")
        assert proc.poll() is None, log.read_text()[-3000:]
        pids = {
            (n, unit): topology.pid(n, unit) for n in BOXES for unit in (WEB_UNIT, PUBLISH_UNIT)
        }
        os.killpg(pids[1, WEB_UNIT], signal.SIGKILL)  # the box's whole gunicorn
        wait_until(lambda: all_succeed(topology, 20), timeout=60, what="20 requests in a row")
        assert all_succeed(topology, 60)
        with pytest.raises(OSError):  # box-1 is still down: box-2 answered them all
            unix_request(topology.socket(1), "GET", "/api/health/live")
    finally:
        code = stop(proc, grace=120, signum=signal.SIGINT, whole_group=True)
    try:
        assert code == 0, log.read_text()[-3000:]
        survivors = [pid for key, pid in pids.items() if key != (1, WEB_UNIT) and alive(pid)]
        assert survivors == []
        # removed by PostgreSQL's clean shutdown
        assert not (Layout(state).postgres / "data" / "postmaster.pid").exists()
        assert http_status(f"http://127.0.0.1:{port}/api/health/live") == 0  # nginx is gone
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def all_succeed(topology: Topology, count: int) -> bool:
    """`count` requests through the balancer, reads and writes in turn, all answered 200."""
    for number in range(count):
        user = f"ha-kill-{number}"
        if number % 2:
            status = http_status(f"{topology.url}/api/users/ha-kill-{number - 1}/state")
        else:
            try:
                status = patch(topology.url, user, f"device-{number}")
            except OSError:
                return False
        if status != 200:
            return False
    return True


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
