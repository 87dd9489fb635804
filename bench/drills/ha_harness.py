"""The ha topology the failover drill breaks: `python -m localbox --topology ha` in a folder of
its own, its output in a log file, with a lost box started again after REPLACE_AFTER seconds.

The drill reads what happened from the balancer's access log (which box each request went to,
and what it answered) and checks writes in the topology's PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.drills.harness import wait_for
from localbox.box import read_env_file
from localbox.ha import Layout
from localbox.processes import free_port, http_status, stop
from localbox.units import ROOT
from service.contract import PUBLISH_UNIT, WEB_UNIT
from service.publish.scrape import unix_request

REPLACE_AFTER = 8.0  # seconds a lost box stays lost (the auto scaling group takes minutes)
METRICS_EVERY = 2  # seconds: the publishers' 60-second interval, sped up
BOXES = (1, 2)
READY_PATH = "/api/health/ready"  # what the ALB's target group probes


@dataclass
class HaDrillBox:
    """A running ha topology and the handles the failover drill needs."""

    port: int
    state: Path
    log: Path
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def layout(self) -> Layout:
        return Layout(self.state)

    def pid(self, box: int, unit: str = WEB_UNIT) -> int:
        """The running main process of `unit` on `box` (rewritten on every restart)."""
        return int(self.layout.pid_file(box, unit).read_text())

    def socket(self, box: int) -> str:
        return str(self.layout.socket(box))

    def ready(self) -> bool:
        """The balancer answers ready (some box does)."""
        return http_status(f"{self.url}{READY_PATH}") == 200

    def box_ready(self, box: int) -> bool:
        """The box itself answers ready on its socket."""
        try:
            return unix_request(self.socket(box), "GET", READY_PATH, timeout=2)[0] == 200
        except OSError:
            return False

    def database_url(self) -> str:
        return read_env_file(self.layout.env_file(1))["APP_DATABASE_URL"]

    def access_log(self) -> list[dict[str, Any]]:
        """The balancer's access log, one dict a request (see localbox/balancer.conf.j2)."""
        entries = []
        for line in self.layout.access_log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                entries.append(json.loads(line))
        return entries

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def ha_drill_box() -> Iterator[HaDrillBox]:
    """Start the topology; always stop it (Ctrl-C's way) and remove its folder."""
    with tempfile.TemporaryDirectory(prefix="onebox-ha-drill-") as scratch:
        Path(scratch).chmod(0o755)  # PostgreSQL runs as `postgres` under root: it must enter
        box = _start(Path(scratch) / "ha", Path(scratch) / "ha.log")
        try:
            yield box
        finally:
            _stop(box)


def _start(state: Path, log: Path) -> HaDrillBox:
    port = free_port()
    command = [
        *(sys.executable, "-m", "localbox", "--topology", "ha"),
        *("--port", str(port), "--state", str(state)),
        *("--replace-after", str(REPLACE_AFTER), "--metrics-every", str(METRICS_EVERY)),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "AWS_"))}
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    box = HaDrillBox(port, state, log, proc)
    up = lambda: all(box.box_ready(n) for n in BOXES) and box.ready()  # noqa: E731
    if wait_for(lambda: proc.poll() is not None or up(), timeout=90) is None:
        _stop(box)
        raise RuntimeError(f"the ha topology did not become ready; see {log}")
    if proc.poll() is not None:
        raise RuntimeError(f"the ha topology exited ({proc.returncode}):\n{box.log_text()[-2000:]}")
    return box


def _stop(box: HaDrillBox) -> None:
    """SIGTERM, as Ctrl-C would: the boxes drain, then the rest stops; killed if it hangs."""
    if stop(box.proc, grace=120) == -signal.SIGKILL:
        for number in BOXES:
            for unit in (WEB_UNIT, PUBLISH_UNIT):
                with contextlib.suppress(OSError, ValueError):
                    pid = box.pid(number, unit)
                    environ = (Path("/proc") / str(pid) / "environ").read_text(errors="replace")
                    if str(box.state) in environ:  # still ours, not a reused pid
                        os.killpg(pid, signal.SIGKILL)
