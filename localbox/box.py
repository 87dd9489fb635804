"""The whole box on 127.0.0.1: what the EC2 instance runs, from the files the instance gets.

Order, as systemd orders it on the box: the AWS endpoint (moto_server stands in for S3 and
CloudWatch), restore-on-start, the web service, the metrics publisher and the backup schedule.
Stopping reverses it: publisher, web service (drained by SIGTERM), final backup, endpoint.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from localbox.moto import aws_environment, moto_server
from localbox.units import DEPLOY, ROOT, PathMap, Unit, read_unit

WEB_UNIT = "onebox.service"
ENV_FILE = "/etc/onebox/onebox.env"


@dataclass(frozen=True)
class Roles:
    """Which unit does what, found by the module each one runs."""

    web: Unit
    data: Unit  # restore before the service starts, final backup after it stops
    backup: Unit  # what the timer starts
    publisher: Unit

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
        )


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile= reads them (comments and blanks skipped)."""
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and not name.startswith(("#", ";")):
            env[name.strip()] = value.strip().strip('"')
    return env


@dataclass
class Box:
    state: Path
    port: int
    backup_every: float
    say: Callable[[str], None] = print

    def __post_init__(self) -> None:
        self.paths = PathMap(self.state)
        self.roles = Roles.discover()
        self.stopping = threading.Event()

    # -- environment -----------------------------------------------------------------------

    def write_env_file(self, endpoint: str) -> Path:
        """What the infrastructure writes to /etc/onebox/onebox.env, with local values."""
        path = Path(self.paths(ENV_FILE))
        path.parent.mkdir(parents=True, exist_ok=True)
        values = {
            "APP_ENV": "development",
            "APP_VERSION": "local",
            "APP_BACKUP_BUCKET": "onebox-local",
            "APP_BACKUP_PREFIX": "backups",
            "APP_METRICS_NAMESPACE": "Onebox/local",
            "APP_METRICS_URL": f"http://127.0.0.1:{self.port}/metrics",
            "APP_INSTANCE_ID": "i-local",
            "AWS_REGION": aws_environment(endpoint)["AWS_REGION"],
        }
        path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        return path

    def environment(self, unit: Unit, endpoint: str) -> dict[str, str]:
        """The process environment: ours less APP_*, then the unit's, then its env file."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("APP_")}
        env |= aws_environment(endpoint)
        env |= self.paths.env(unit.environment())
        for file in unit.values("EnvironmentFile"):
            path = Path(self.paths(file.lstrip("-")))
            if path.exists():
                env |= read_env_file(path)
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
    def daemon(self, unit: Unit, endpoint: str, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
        (argv,) = unit.commands("ExecStart")
        proc = subprocess.Popen(
            [*self.paths.argv(argv), *extra],
            cwd=ROOT,
            env=self.environment(unit, endpoint),
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            stop(proc)
            self.say(f"localbox: {unit.name} stopped (exit {proc.returncode})")

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> int:
        for sub in ("lib", "run"):
            (self.state / sub).mkdir(parents=True, exist_ok=True)
        with ExitStack() as stack:
            endpoint = stack.enter_context(moto_server())
            self.write_env_file(endpoint)
            self.create_bucket(endpoint)
            self.say(f"localbox: AWS endpoint (moto_server) at {endpoint}")
            if self.run_once(self.roles.data, "ExecStart", endpoint) != 0:
                self.say("localbox: restore-on-start failed; the service stays down")
                return 1
            try:
                with (
                    self.daemon(self.roles.web, endpoint, "--bind", f"127.0.0.1:{self.port}"),
                    self.daemon(self.roles.publisher, endpoint),
                ):
                    self.announce()
                    self.schedule_backups(endpoint)
            finally:
                self.say("localbox: final backup after the service has drained")
                code = self.run_once(self.roles.data, "ExecStop", endpoint)
                self.say(f"localbox: final backup exit {code}; stopping the AWS endpoint")
        return 0

    def create_bucket(self, endpoint: str) -> None:
        import boto3

        env = self.environment(self.roles.web, endpoint)
        bucket = read_env_file(Path(self.paths(ENV_FILE)))["APP_BACKUP_BUCKET"]
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name=env["AWS_REGION"])
        s3.create_bucket(Bucket=bucket)

    def announce(self) -> None:
        url = f"http://127.0.0.1:{self.port}"
        self.say(
            f"localbox: up. {url}/api/health  {url}/api/metrics  {url}/metrics  "
            f"(backups every {self.backup_every:g}s; Ctrl-C stops with a final backup)"
        )

    def schedule_backups(self, endpoint: str) -> None:
        while not self.stopping.wait(self.backup_every):
            code = self.run_once(self.roles.backup, "ExecStart", endpoint)
            self.say(f"localbox: scheduled backup exit {code}")


def stop(proc: subprocess.Popen[bytes], grace: float = 45.0) -> None:
    """SIGTERM (graceful for gunicorn), then SIGKILL to the group after `grace` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
