"""The ha topology on 127.0.0.1: two boxes on one PostgreSQL, behind nginx standing in for the
application load balancer (what `make local TOPOLOGY=ha` runs).

Order: the AWS endpoint (moto_server, for the publishers' CloudWatch), PostgreSQL (standing in
for RDS, its data under the state folder), the balancer, then each box's web service and
publisher, exactly as the box's units run them. Each box has a folder of its own (its env file,
runtime directory and pid files, as an instance has its disk) and serves on a socket of its
own, which gunicorn binds itself: a box that dies takes its socket with it, as a lost instance
takes its address, so the balancer sees it gone (the single box holds its socket across
restarts instead, as onebox.socket does). No restore and no backup units: on AWS, RDS automated
backups and point-in-time restore replace them. Stopping reverses the order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from localbox import edge, postgres
from localbox.balancer import ACCESS_LOG, Balancer, write_config
from localbox.box import Box
from localbox.moto import moto_server
from localbox.supervised import Supervised
from localbox.units import PathMap
from service import config
from service.contract import ENV_FILE, GUNICORN_METRICS_URL, GUNICORN_SOCKET

BOXES = 2
NO_BACKUPS = (
    "no restore or backup units in ha: on AWS, RDS automated backups and point-in-time "
    "restore replace them"
)


def missing() -> str | None:
    """Why the topology cannot run here (a sentence), or None."""
    if edge.nginx_binary() is None:
        return "nginx is not installed: nothing to stand in for the load balancer"
    return postgres.missing()


@dataclass(frozen=True)
class Layout:
    """Where the topology keeps what, under its state folder (the drill and the tests read it)."""

    state: Path

    def box(self, number: int) -> Path:
        """The box's folder: its lib/, run/ and etc/, as an instance has its own disk."""
        return self.state / f"box-{number}"

    def socket(self, number: int) -> Path:
        """The box's gunicorn socket: GUNICORN_SOCKET, under the box's folder."""
        return Path(PathMap(self.box(number))(GUNICORN_SOCKET))

    def env_file(self, number: int) -> Path:
        return Path(PathMap(self.box(number))(ENV_FILE))

    def pid_file(self, number: int, unit: str) -> Path:
        """The running main process of the box's `unit` (as `Box.daemon` writes it)."""
        return self.box(number) / "run" / f"{unit}.pid"

    @property
    def postgres(self) -> Path:
        return self.state / "postgres"

    @property
    def balancer(self) -> Path:
        return self.state / "run" / "balancer"

    @property
    def access_log(self) -> Path:
        return self.balancer / ACCESS_LOG


@dataclass
class Node:
    """One box of the topology: a `Box` in a folder of its own, serving on its own socket."""

    number: int
    box: Box
    layout: Layout

    @property
    def name(self) -> str:
        return f"box-{self.number}"

    @property
    def instance_id(self) -> str:
        return f"i-local-{self.number}"

    @property
    def socket(self) -> Path:
        """gunicorn's socket (the box's GUNICORN_SOCKET, under the box's folder)."""
        return self.layout.socket(self.number)

    def write_env_file(self, endpoint: str, database_url: str) -> None:
        """The box's env file (the single box's values), with what differs in ha: the
        PostgreSQL store, an instance id of its own, and gunicorn's socket for the publisher
        and the balancer in front, whose forwarded client address the service trusts."""
        values = self.box.env_values(endpoint) | {
            "APP_DATABASE_URL": database_url,
            "APP_INSTANCE_ID": self.instance_id,
            "APP_METRICS_URL": self.box.paths(GUNICORN_METRICS_URL),
            "APP_TRUST_PROXY": "true",
        }
        path = self.layout.env_file(self.number)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config.env_file_text(values))


@dataclass
class HaBox:
    state: Path
    port: int
    say: Callable[[str], None] = print
    aws_endpoint: str | None = None  # an endpoint someone else runs (drills); None: moto_server
    metrics_every: int | None = None  # APP_METRICS_INTERVAL for the publishers
    replace_after: float | None = None  # seconds before a dead box starts again; None: RestartSec=
    retry: bool = True  # the balancer retries a request that reached no box (the ALB does not)

    def __post_init__(self) -> None:
        self.layout = Layout(self.state)
        self.stopping = threading.Event()
        self.nginx = edge.nginx_binary()

    def node(self, number: int, endpoint: str, database_url: str) -> Node:
        box = Box(
            self.layout.box(number),
            self.port,
            backup_every=0.0,  # no backup units in ha
            say=self._say_for(f"box-{number}"),
            aws_endpoint=endpoint,
            metrics_every=self.metrics_every,
            front=False,  # the balancer is in front of every box
        )
        for sub in ("lib", "run"):
            (box.state / sub).mkdir(parents=True, exist_ok=True)
        node = Node(number, box, self.layout)
        node.socket.parent.mkdir(parents=True, exist_ok=True)
        node.write_env_file(endpoint, database_url)
        return node

    def run(self) -> int:
        problem = missing()
        if problem:
            self.say(f"localbox: topology ha needs nginx and PostgreSQL: {problem}")
            return 1
        with ExitStack() as stack:
            endpoint = self.aws_endpoint or stack.enter_context(moto_server())
            what = "given" if self.aws_endpoint else "moto_server"
            self.say(f"localbox: AWS endpoint ({what}) at {endpoint}")
            stack.callback(self.say, "localbox: PostgreSQL stopped; stopping the AWS endpoint")
            database = stack.enter_context(postgres.running(self.layout.postgres))
            self.say(f"localbox: PostgreSQL at {database.url} (data in {database.data})")
            nodes = [self.node(n, endpoint, database.url) for n in range(1, BOXES + 1)]
            front = stack.enter_context(self.front_door(nodes))
            daemons: list[Supervised] = []
            for node in nodes:
                daemons.append(stack.enter_context(self.web(node, endpoint)))
                daemons.append(
                    stack.enter_context(node.box.daemon(node.box.roles.publisher, endpoint))
                )
            self.announce(nodes, front)
            while not self.stopping.wait(0.2):  # systemd's Restart= (or the replacement)
                for daemon in daemons:
                    daemon.check()
            self.say("localbox: stopping the boxes (drained by SIGTERM), then the rest")
        self.say("localbox: stopped")
        return 0

    @contextmanager
    def web(self, node: Node, endpoint: str) -> Iterator[Supervised]:
        """The box's web unit, bound to the box's own socket (no socket held for it)."""
        box = node.box
        unit = box.roles.web
        (argv,) = unit.commands("ExecStart")
        argv = [*box.paths.argv(argv), "--bind", f"unix:{node.socket}"]
        supervised = Supervised(unit, argv, box.environment(unit, endpoint), box.say)
        supervised.pidfile = self.layout.pid_file(node.number, unit.name)
        supervised.restart_after = self.replace_after
        supervised.start()
        try:
            yield supervised
        finally:
            code = supervised.stop()
            box.say(f"localbox: {unit.name} stopped (exit {code})")

    @contextmanager
    def front_door(self, nodes: list[Node]) -> Iterator[Balancer]:
        """nginx on 127.0.0.1:port with the boxes' sockets as its one target group."""
        assert self.nginx is not None
        front = Balancer(
            port=self.port,
            boxes=tuple(str(node.socket) for node in nodes),
            folder=str(self.layout.balancer),
            user=edge.worker_user(),
            retry=self.retry,
        )
        conf = write_config(front)
        check = edge.check(self.nginx, conf)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t refused {conf}: {check.stderr.strip()}")
        with edge.running(self.nginx, conf, self.port):
            self.say(f"localbox: balancer (nginx for the ALB) on 127.0.0.1:{self.port} ({conf})")
            yield front
        self.say("localbox: balancer stopped")

    def announce(self, nodes: list[Node], front: Balancer) -> None:
        url = f"http://127.0.0.1:{self.port}"
        for node in nodes:
            self.say(
                f"localbox: {node.name} ({node.instance_id}): gunicorn on {node.socket}, "
                f"its publisher, env file {node.box.paths(ENV_FILE)}"
            )
        retry = "retries on the other box" if front.retry else "no retry, as the ALB"
        restart = nodes[0].box.roles.web.one("RestartSec")
        replaced = (
            f"RestartSec={restart}" if self.replace_after is None else f"{self.replace_after:g} s"
        )
        self.say(f"localbox: {NO_BACKUPS}")
        self.say(
            f"localbox: up (topology ha). {url}/api/health  through the balancer (box out for "
            f"{front.fail_timeout} s after {front.max_fails} failure(s), {retry}; access log "
            f"{front.access_log}); a box that dies starts again after {replaced}; Ctrl-C stops"
        )

    def _say_for(self, name: str) -> Callable[[str], None]:
        """`say`, with the box's name after the prefix."""

        def say(line: str) -> None:
            self.say(line.replace("localbox: ", f"localbox: {name}: ", 1))

        return say
