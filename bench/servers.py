"""The contenders of the box benchmark, each as the box runs it: nginx rendered from the box's
template in front of a WSGI server on a unix socket, all of it in one cgroup under a CPU quota.

- ours: the web unit's ExecStart= and environment (service/deploy/onebox.service, read by
  localbox as the local box reads it, env file included), its socket handed over as
  onebox.socket hands it, with a token file as on the box. A variant adds gunicorn flags to
  that command line (a flag given there wins over gunicorn.conf.py), or serves the same app
  under granian.
- bare: bench/bare_app.py under gunicorn sync, 2 workers, behind the same nginx config.
"""

from __future__ import annotations

import contextlib
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.cgroup import CpuQuota, cpu_quota
from bench.mix import store_users
from bench.procs import rss_mb, tree
from localbox import edge
from localbox.box import Box
from localbox.listen import activated, unix_listening_socket
from localbox.processes import free_port, http_status, stop
from localbox.units import ROOT

GUNICORN = str(Path(sys.executable).parent / "gunicorn")
GRANIAN = str(Path(sys.executable).parent / "granian")
BARE_FLAGS = ("-w", "2", "-k", "sync")
# Named settings of ours: gunicorn flags added to the unit's command line, or granian. The sync
# ones say --threads 1: gunicorn.conf.py sets threads = 2, and gunicorn turns a sync worker with
# more than one thread into gthread (so `-k sync` alone runs gthread, as strace shows: epoll and
# futex calls per request, no accept loop).
VARIANTS = {
    "shipped": "",
    "gthread2x2": "-w 2 -k gthread --threads 2",
    "sync2": "-w 2 -k sync --threads 1",
    "sync3": "-w 3 -k sync --threads 1",
    "granian": "granian",
}
GRANIAN_FLAGS = ("--interface", "wsgi", "--workers", "2", "--blocking-threads", "1")
UNLIMITED = {"APP_RATE_WRITES_PER_MINUTE": "1000000", "APP_RATE_READS_PER_MINUTE": "1000000"}
NOWHERE = "http://127.0.0.1:9"  # the AWS endpoint: the web service never calls AWS


@dataclass(frozen=True)
class Spec:
    """Which server: `app` is ours or bare; `flags` gunicorn flags added, or "granian";
    `entry` another WSGI app (module:name) in place of the unit's (bench.flame's fallback)."""

    app: str
    flags: str = ""
    entry: str = ""

    @property
    def name(self) -> str:
        if self.app == "bare":
            return "bare"
        named = {flags: name for name, flags in VARIANTS.items()}
        return f"ours {named.get(self.flags, self.flags)}"


def spec(text: str) -> Spec:
    """A --variant value: a name of VARIANTS, or gunicorn flags for ours ("-w 4 -k sync")."""
    if text in VARIANTS:
        return Spec("ours", VARIANTS[text])
    if not text.startswith("-"):
        raise ValueError(f"variant {text!r}: one of {', '.join(VARIANTS)} or gunicorn flags")
    return Spec("ours", " ".join(shlex.split(text)))


def local_box(state: Path, port: int = 80) -> Box:
    """The local box's view of the box (its units, paths and env file) in `state`, nginx in
    front on `port`."""
    return Box(state=state, port=port, backup_every=3600.0, front=True, say=lambda _: None)


def ours_command(box: Box, flags: str, entry: str = "") -> list[str]:
    """The web unit's ExecStart=, box paths moved here, `flags` before the app argument."""
    (argv,) = box.roles.web.commands("ExecStart")
    argv = box.paths.argv(argv)
    app = entry or argv[-1]
    if flags == "granian":
        return [GRANIAN, *GRANIAN_FLAGS, "--uds", str(box.gunicorn_socket), app]
    return [*argv[:-1], *shlex.split(flags), app]


def ours_environment(box: Box, token: str) -> dict[str, str]:
    """The web unit's environment as the local box builds it, with a token file as on the box."""
    box.write_env_file(NOWHERE)
    env = box.environment(box.roles.web, NOWHERE)
    env.pop("APP_API_TOKEN", None)
    token_file = box.state / "etc" / "api-token"
    token_file.write_text(token)
    env["APP_API_TOKEN_FILE"] = str(token_file)
    return env


def bare_command(state: Path, socket: Path) -> list[str]:
    app = f"bench.bare_app:create_app({str(state / 'bare.db')!r})"
    return [GUNICORN, *BARE_FLAGS, "--bind", f"unix:{socket}", app]


@dataclass
class Contender:
    """One running server behind its nginx, and what the benchmark reads of it."""

    spec: Spec
    port: int  # nginx's
    server: subprocess.Popen[bytes]
    nginx: subprocess.Popen[bytes]
    token: str
    group: CpuQuota | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def server_pids(self) -> list[int]:
        return tree(self.server.pid)

    def rss_mb(self) -> float:
        """Resident memory of the WSGI server's processes (master and workers), summed."""
        return rss_mb(self.server_pids())

    def cpu_seconds(self) -> float:
        """CPU used by the whole group (nginx and the server); NaN without a group."""
        return self.group.usage_seconds() if self.group is not None else float("nan")


def _start(box: Box, spec: Spec, token: str) -> subprocess.Popen[bytes]:
    """The WSGI server of `spec`, started in the box's state folder, on its gunicorn socket."""
    path = box.gunicorn_socket
    listen: socket.socket | None = None
    if spec.app == "bare":
        path.parent.mkdir(parents=True, exist_ok=True)
        argv, env = bare_command(box.state, path), None
    else:
        argv, env = ours_command(box, spec.flags, spec.entry), ours_environment(box, token)
        if spec.flags == "granian":  # what gunicorn.conf.py's on_starting does
            Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True)
        else:  # systemd's socket activation, as onebox.socket does it
            listen = unix_listening_socket(path)
            argv = activated(argv, listen.fileno())
    fds = (listen.fileno(),) if listen is not None else ()
    with (box.state / "server.log").open("ab") as log:
        try:
            return subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=log,
                start_new_session=True,  # its signals are ours to send
                pass_fds=fds,
            )
        finally:
            if listen is not None:
                listen.close()  # the server holds its own copy


@contextlib.contextmanager
def running(spec: Spec, state: Path, users: int, quota: bool = True) -> Iterator[Contender]:
    """`spec` behind nginx, ready, `users` stored, then (with `quota`) in its own cgroup."""
    nginx = edge.nginx_binary()
    if nginx is None:
        raise SystemExit("bench: nginx is not installed: the box's front door cannot run")
    if spec.flags == "granian" and shutil.which(GRANIAN) is None:
        raise SystemExit("bench: granian is not installed (.venv/bin/pip install granian)")
    state.mkdir(parents=True)
    token = secrets.token_urlsafe(24)
    port = free_port()
    box = local_box(state, port)
    server = _start(box, spec, token)
    try:
        folder = state / "nginx"
        config = edge.local_config(folder, port, box.gunicorn_socket, UNLIMITED)
        with edge.running(nginx, edge.write_config(folder, config), port) as front:
            contender = Contender(spec, port, server, front, token)
            _wait_ready(contender, state / "server.log")
            store_users(contender.url, users, token)
            if not quota:
                yield contender
                return
            with cpu_quota(spec.name.replace(" ", "-")) as (group, why):
                if group is None:
                    raise SystemExit(f"bench: {why}")
                group.add([*tree(front.pid), *contender.server_pids()])
                contender.group = group
                yield contender
                stop(server, grace=20)  # before the group goes: its processes leave it
    finally:
        stop(server, grace=20)


def _wait_ready(contender: Contender, log: Path, timeout: float = 60.0) -> None:
    """Until the server answers ready through nginx, and every worker it will have is up."""
    deadline = time.monotonic() + timeout
    while http_status(f"{contender.url}/api/health/ready", timeout=2) != 200:
        if contender.server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{contender.spec.name} did not become ready; see {log}")
        time.sleep(0.1)
    time.sleep(1.0)  # the other workers finish booting too
