"""The whole box on 127.0.0.1: what the EC2 instance runs, from the files the instance gets.

Order, as systemd orders it on the box: the AWS endpoint (moto_server stands in for S3 and
CloudWatch), restore-on-start, the web service, the metrics publisher and the backup schedule.
Stopping reverses it: publisher, web service (drained by SIGTERM), final backup, endpoint.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from infra.userdata import BoxEnvironment, environment
from localbox import edge
from localbox.listen import activated, listening_socket, unix_listening_socket
from localbox.moto import aws_environment, moto_server
from localbox.supervised import Supervised
from localbox.units import DEPLOY, OFF_BOX, ROOT, PathMap, Unit, read_unit
from service import config
from service.contract import ENV_FILE, GUNICORN_METRICS_URL, SOCKET_UNIT, WEB_UNIT

STACK = "local"
BUCKET = "onebox-local"
INSTANCE_ID = "i-local"
# Passed from our environment to the web service (every other APP_* comes from the env file).
PASSED_THROUGH = ("APP_API_TOKEN",)
# Taken from our environment into the env file, so nginx and the service both see them: the
# drills' load comes from one address, 127.0.0.1, which the box's per-client limits would
# otherwise throttle.
RATE_LIMITS = ("APP_RATE_WRITES_PER_MINUTE", "APP_RATE_READS_PER_MINUTE")


@dataclass(frozen=True)
class Roles:
    """Which unit does what, found by the module each one runs."""

    web: Unit
    data: Unit  # restore before the service starts, final backup after it stops
    backup: Unit  # what the timer starts
    publisher: Unit
    web_socket: Unit  # onebox.socket: what the web service listens on

    @staticmethod
    def discover(folder: Path = DEPLOY) -> Roles:
        units = [read_unit(p.name, folder) for p in sorted(folder.glob("*.service"))]

        def running(module: str, key: str = "ExecStart") -> Unit:
            for unit in units:
                if any(module in " ".join(argv) for argv in unit.commands(key)):
                    return unit
            raise LookupError(f"no unit in {folder} has {key}= running {module!r}")

        return Roles(
            web=read_unit(WEB_UNIT, folder),
            data=running("service.backup", "ExecStop"),
            backup=running("service.backup backup"),
            publisher=running("service.publish"),
            web_socket=read_unit(SOCKET_UNIT, folder),
        )


def read_env_file(path: Path) -> dict[str, str]:
    """An env file the local box wrote (the box's format: service.config reads it)."""
    return config.parse_env_file(path.read_text())


@dataclass
class Box:
    state: Path
    port: int
    backup_every: float
    say: Callable[[str], None] = print
    aws_endpoint: str | None = None  # an endpoint someone else runs (drills); None: moto_server
    metrics_every: int | None = None  # APP_METRICS_INTERVAL for the publisher; None: its default
    front: bool | None = None  # nginx in front: None when it is on the PATH; False: never

    def __post_init__(self) -> None:
        self.paths = PathMap(self.state)
        self.roles = Roles.discover()
        self.stopping = threading.Event()
        self.nginx = edge.nginx_binary() if self.front is not False else None
        if self.front and self.nginx is None:
            raise RuntimeError("nginx is not installed: no front door to run")

    @property
    def gunicorn_socket(self) -> Path:
        """The socket unit's ListenStream= (GUNICORN_SOCKET), under the local folder."""
        return Path(self.paths(self.roles.web_socket.one("ListenStream") or ""))

    # -- environment -----------------------------------------------------------------------

    def write_env_file(self, endpoint: str) -> Path:
        """The env file the infrastructure writes (`infra.userdata.environment`), with what
        differs on this machine: the stack, bucket and port, and what EC2 or the installer
        would supply (the instance id, the version)."""
        path = Path(self.paths(ENV_FILE))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config.env_file_text(self.env_values(endpoint)))
        return path

    def env_values(self, endpoint: str) -> dict[str, str]:
        defaults = config.defaults()
        box = BoxEnvironment(
            stack=STACK,
            region=aws_environment(endpoint)["AWS_REGION"],
            bucket=BUCKET,
            restore_bucket=None,
            backup_keep=defaults["BACKUP_KEEP"],
            backup_retention_days=defaults["BACKUP_RETENTION_DAYS"],
            http_port=self.port,
        )
        local = {"APP_ENV": "development", "APP_VERSION": "local", "APP_INSTANCE_ID": INSTANCE_ID}
        local |= {name: os.environ[name] for name in RATE_LIMITS if name in os.environ}
        if self.metrics_every is not None:
            local["APP_METRICS_INTERVAL"] = str(self.metrics_every)
        if self.nginx is not None:  # nginx serves no /metrics: the publisher reads the socket
            local["APP_METRICS_URL"] = self.paths(GUNICORN_METRICS_URL)
        else:  # gunicorn on the port itself: nothing in front whose client address to trust
            local["APP_METRICS_URL"] = f"http://127.0.0.1:{self.port}/metrics"
            local["APP_TRUST_PROXY"] = "false"
        return environment(box) | local

    def write_operator_files(self, endpoint: str) -> None:
        """run/localbox.pid (who to signal) and run/localbox.env (what to source to run the
        box's commands by hand: the backup unit's environment, AWS endpoint included)."""
        run = self.state / "run"
        (run / "localbox.pid").write_text(f"{os.getpid()}\n")
        env = self.environment(self.roles.backup, endpoint)
        wanted = {k: v for k, v in env.items() if k.startswith(("APP_", "AWS_"))}
        (run / "localbox.env").write_text(config.env_file_text(wanted))

    def environment(self, unit: Unit, endpoint: str) -> dict[str, str]:
        """The process environment: ours less APP_*, then the unit's, then its env file."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("APP_")}
        env |= aws_environment(endpoint)
        env |= self.paths.env(unit.environment())
        env |= {name: value for name, value in OFF_BOX.items() if name in env}
        for file in unit.values("EnvironmentFile"):
            path = Path(self.paths(file.lstrip("-")))
            if path.exists():
                env |= read_env_file(path)
        if unit.name == WEB_UNIT:  # the token: the service's alone, never in a file here
            env |= {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
        return env

    # -- processes -------------------------------------------------------------------------

    def run_once(self, unit: Unit, key: str, endpoint: str) -> int:
        """Run a unit's Exec<key>= lines in order, as a oneshot; the first failure stops."""
        for argv in unit.commands(key):
            result = subprocess.run(
                self.paths.argv(argv),
                cwd=ROOT,
                env=self.environment(unit, endpoint),
                start_new_session=True,  # Ctrl-C is ours to handle, not the child's
                check=False,
            )
            if result.returncode != 0:
                return result.returncode
        return 0

    @contextmanager
    def daemon(
        self, unit: Unit, endpoint: str, listen: socket.socket | None = None
    ) -> Iterator[Supervised]:
        """Start a long-running unit; restarted as its Restart= says; stopped on the way out.

        With `listen`, the unit gets that socket as systemd's socket activation hands it over.
        """
        (argv,) = unit.commands("ExecStart")
        argv = self.paths.argv(argv)
        fds: tuple[int, ...] = ()
        if listen is not None:
            argv, fds = activated(argv, listen.fileno()), (listen.fileno(),)
        supervised = Supervised(unit, argv, self.environment(unit, endpoint), self.say, fds)
        # Like systemd's MAINPID: the drills signal the process that is running right now.
        supervised.pidfile = self.state / "run" / f"{unit.name}.pid"
        supervised.start()
        try:
            yield supervised
        finally:
            code = supervised.stop()
            self.say(f"localbox: {unit.name} stopped (exit {code})")

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> int:
        for sub in ("lib", "run"):
            (self.state / sub).mkdir(parents=True, exist_ok=True)
        with ExitStack() as stack:
            # Bound first and held to the end, like onebox.socket: restarts queue, not refuse.
            if self.nginx is None:
                listen = stack.enter_context(listening_socket(self.port))
            else:
                listen = stack.enter_context(unix_listening_socket(self.gunicorn_socket))
            endpoint = self.aws_endpoint or stack.enter_context(moto_server())
            stack.callback(self.remove_operator_files)
            self.write_env_file(endpoint)
            self.write_operator_files(endpoint)
            self.create_bucket(endpoint)
            what = "given" if self.aws_endpoint else "moto_server"
            self.say(f"localbox: AWS endpoint ({what}) at {endpoint}")
            if self.nginx is not None:
                stack.enter_context(self.front_door(endpoint))
            if self.run_once(self.roles.data, "ExecStart", endpoint) != 0:
                self.say("localbox: restore-on-start failed; the service stays down")
                return 1
            try:
                with (
                    self.daemon(self.roles.web, endpoint, listen) as web,
                    self.daemon(self.roles.publisher, endpoint) as publisher,
                ):
                    self.announce()
                    self.supervise(endpoint, [web, publisher])
            finally:
                self.say("localbox: final backup after the service has drained")
                code = self.run_once(self.roles.data, "ExecStop", endpoint)
                self.say(f"localbox: final backup exit {code}; stopping the AWS endpoint")
        return 0

    @contextmanager
    def front_door(self, endpoint: str) -> Iterator[None]:
        """nginx from the box's template on 127.0.0.1:port, in front of gunicorn's socket; its
        access log (JSON) on our stdout. No edge here: the origin map trusts every request."""
        assert self.nginx is not None
        folder = self.state / "run" / "nginx"
        settings = read_env_file(Path(self.paths(ENV_FILE)))
        config = edge.local_config(
            folder, self.port, self.gunicorn_socket, settings, access_log="/dev/stdout"
        )
        conf = edge.write_config(folder, config)
        check = edge.check(self.nginx, conf)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t refused {conf}: {check.stderr.strip()}")
        with edge.running(self.nginx, conf, self.port):
            self.say(f"localbox: nginx in front on 127.0.0.1:{self.port} ({conf})")
            yield
        self.say("localbox: nginx stopped")

    def remove_operator_files(self) -> None:
        for name in ("localbox.pid", "localbox.env"):
            (self.state / "run" / name).unlink(missing_ok=True)

    def create_bucket(self, endpoint: str) -> None:
        import boto3

        aws = aws_environment(endpoint)
        bucket = read_env_file(Path(self.paths(ENV_FILE)))["APP_BACKUP_BUCKET"]
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=aws["AWS_REGION"],
            aws_access_key_id=aws["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=aws["AWS_SECRET_ACCESS_KEY"],
        ).create_bucket(Bucket=bucket)

    def announce(self) -> None:
        url = f"http://127.0.0.1:{self.port}"
        if self.nginx is not None:
            front = f"nginx in front; Prometheus text on {self.gunicorn_socket}"
        else:
            front = f"gunicorn on the port, no nginx (not installed); {url}/metrics"
        self.say(
            f"localbox: up. {url}/api/health  {url}/api/metrics  ({front}; backups every "
            f"{self.backup_every:g}s; Ctrl-C stops with a final backup)"
        )

    def supervise(self, endpoint: str, daemons: list[Supervised]) -> None:
        """Until asked to stop: restart what died (systemd's Restart=), run the backup timer."""
        next_backup = time.monotonic() + self.backup_every
        while not self.stopping.wait(0.2):
            for daemon in daemons:
                daemon.check()
            if time.monotonic() >= next_backup:
                code = self.run_once(self.roles.backup, "ExecStart", endpoint)
                self.say(f"localbox: scheduled backup exit {code}")
                next_backup = time.monotonic() + self.backup_every
