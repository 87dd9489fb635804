"""Start the two contenders under gunicorn on 127.0.0.1, and read the CPU time they use.

"ours" is the real service with service/web/gunicorn.conf.py; "bare" is bench/bare_app.py with the
same worker settings (read from that file, not copied), so only the application differs.
"""

from __future__ import annotations

import ast
import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from localbox.processes import free_port, stop
from localbox.units import ROOT

GUNICORN = str(Path(sys.executable).parent / "gunicorn")
CONF = ROOT / "service" / "web" / "gunicorn.conf.py"
WORKER_SETTINGS = ("workers", "worker_class", "threads", "keepalive", "timeout")


def worker_settings(conf: Path = CONF) -> dict[str, object]:
    """The literal worker settings assigned at the top level of a gunicorn config file."""
    found: dict[str, object] = {}
    for node in ast.parse(conf.read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in WORKER_SETTINGS:
                found[target.id] = ast.literal_eval(node.value)
    missing = set(WORKER_SETTINGS) - set(found)
    if missing:
        raise ValueError(f"{conf}: no literal value for {', '.join(sorted(missing))}")
    return found


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        """The master and its workers."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        with contextlib.suppress(OSError):
            return [self.proc.pid, *map(int, children.read_text().split())]
        return [self.proc.pid]

    def cpu_seconds(self) -> float:
        """User+system CPU time used so far by the master and its live workers."""
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
        return total / os.sysconf("SC_CLK_TCK")


def _command(
    name: str, workdir: Path, port: int, extra: list[str]
) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APP_")}
    bind = ["--bind", f"127.0.0.1:{port}"]
    if name == "ours":
        env |= {
            "APP_DATABASE": str(workdir / "ours.db"),
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics"),
            "PYTHONUNBUFFERED": "1",  # as the unit runs it: log lines are written at once
        }
        return [GUNICORN, "-c", str(CONF), *bind, *extra, "service.web.wsgi:app"], env
    s = worker_settings()
    flags = ["-w", str(s["workers"]), "-k", str(s["worker_class"]), "--threads", str(s["threads"])]
    flags += ["--keep-alive", str(s["keepalive"]), "-t", str(s["timeout"])]
    app = f"bench.bare_app:create_app({str(workdir / 'bare.db')!r})"
    return [GUNICORN, *flags, *bind, *extra, app], env


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/health/ready", timeout=1) as reply:  # noqa: S310
            return bool(reply.status == 200)
    except OSError:
        return False


@contextlib.contextmanager
def serve(name: str, workdir: Path, extra: list[str] | None = None) -> Iterator[Server]:
    """Run `ours` or `bare` (plus gunicorn flags `extra`) until the block ends.

    stdout and stderr (the JSON log) go to a file in `workdir`.
    """
    port = free_port()
    argv, env = _command(name, workdir, port, extra or [])
    with (workdir / f"{name}.log").open("ab") as log:
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
        )
    server = Server(name, proc, port)
    try:
        deadline = time.monotonic() + 30
        while not _ready(server.url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name}: gunicorn did not become ready; see {log.name}")
            time.sleep(0.1)
        time.sleep(0.5)  # let the second worker finish booting too
        yield server
    finally:
        stop(proc, grace=20)  # and no worker outlives its round
