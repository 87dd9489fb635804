"""The box the drills break: `python -m localbox` behind an AWS endpoint the drills can cut.

Set-up, in order: moto_server, the cuttable proxy in front of it, a small tmpfs for the box's
database directory (so the disk can really fill; skipped when `mount` is not allowed here),
then the local box itself with its output in a log file. Everything is undone on the way out.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.drills.proxy import Proxy
from localbox.box import RATE_LIMITS, read_env_file
from localbox.moto import moto_server
from localbox.processes import free_port, http_status, stop
from localbox.units import ROOT
from service.contract import PUBLISH_UNIT, WEB_UNIT

TMPFS_SIZE = "24m"
BACKUP_EVERY = 3  # seconds: the box's 5-minute timer, sped up
METRICS_EVERY = 2  # seconds: the publisher's 60-second interval, sped up
UNLIMITED = 1_000_000  # requests per minute: the rate limits out of the drills' way


@dataclass
class DrillBox:
    """A running local box and the handles the drills need."""

    port: int
    state: Path
    log: Path
    proxy: Proxy
    tmpfs: bool  # the database directory is a small filesystem of its own
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> Path:
        return self.state / "lib" / "onebox.db"

    def pid(self, unit: str = WEB_UNIT) -> int:
        """The running main process of `unit` (the local box rewrites it on every restart)."""
        return int((self.state / "run" / f"{unit}.pid").read_text())

    def workers(self) -> set[int]:
        """The gunicorn workers: children of the current master."""
        return children(self.pid())

    def ready(self) -> bool:
        return http_status(f"{self.url}/api/health/ready") == 200

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def log_mark(self) -> int:
        return self.log.stat().st_size

    def log_since(self, mark: int) -> str:
        with self.log.open("rb") as handle:
            handle.seek(mark)
            return handle.read().decode(errors="replace")

    def environment(self) -> dict[str, str]:
        """What an operator sources to run the box's commands by hand (run/localbox.env)."""
        return read_env_file(self.state / "run" / "localbox.env")

    def connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.database, timeout=10)


def children(pid: int) -> set[int]:
    """Processes whose parent is `pid` (read from /proc; no psutil needed)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields follow the last ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry.name))
    return found


def wait_for(check: Callable[[], bool], timeout: float, step: float = 0.05) -> float | None:
    """Seconds until `check` held (polled every `step`), or None after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(step)
    return None


@contextlib.contextmanager
def tmpfs(folder: Path) -> Iterator[bool]:
    """Mount a small tmpfs on `folder` when allowed (root); yield whether it is mounted."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = False
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command = ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "tmpfs"]
        mounted = subprocess.run([*command, str(folder)], check=False).returncode == 0
    try:
        yield mounted
    finally:
        if mounted and subprocess.run(["umount", str(folder)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], check=False)


@contextlib.contextmanager
def drill_box() -> Iterator[DrillBox]:
    """Start everything; always stop the box (final backup), unmount and clean up."""
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="onebox-drills-")))
        state = scratch / "box"
        endpoint = stack.enter_context(moto_server())
        proxy = Proxy(int(endpoint.rsplit(":", 1)[1]), free_port())
        proxy.up()
        stack.callback(proxy.down)
        mounted = stack.enter_context(tmpfs(state / "lib"))
        box = _start(state, proxy, mounted, scratch / "box.log")
        stack.callback(_stop, box)
        yield box


def _start(state: Path, proxy: Proxy, mounted: bool, log: Path) -> DrillBox:
    port = free_port()
    command = [
        *(sys.executable, "-m", "localbox", "--port", str(port), "--state", str(state)),
        *("--backup-every", str(BACKUP_EVERY), "--metrics-every", str(METRICS_EVERY)),
        *("--aws-endpoint", proxy.url),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "AWS_"))}
    env |= {name: str(UNLIMITED) for name in RATE_LIMITS}  # the drills' load is one client
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    box = DrillBox(port, state, log, proxy, mounted, proc)
    if wait_for(lambda: proc.poll() is not None or box.ready(), timeout=60) is None:
        _stop(box)
        raise RuntimeError(f"the local box did not become ready; see {log}")
    if proc.poll() is not None:
        raise RuntimeError(f"the local box exited ({proc.returncode}):\n{box.log_text()[-2000:]}")
    return box


def _stop(box: DrillBox) -> None:
    """SIGTERM, as Ctrl-C would: drain, final backup, endpoint down; killed if it hangs."""
    if stop(box.proc, grace=90) == -signal.SIGKILL:
        for unit in (WEB_UNIT, PUBLISH_UNIT):
            _kill_orphan(box, unit)


def _kill_orphan(box: DrillBox, unit: str) -> None:
    """Kill what the killed box left running, checking first that the pid is still ours."""
    with contextlib.suppress(OSError, ValueError):
        pid = box.pid(unit)
        if str(box.state) in (Path("/proc") / str(pid) / "environ").read_text(errors="replace"):
            os.killpg(pid, signal.SIGKILL)  # its own session: the workers go with it
