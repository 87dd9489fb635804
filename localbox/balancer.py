"""nginx standing in for the ha topology's application load balancer, on 127.0.0.1.

The config is rendered from `Balancer`'s values by Jinja2 (balancer.conf.j2, beside this file):
one upstream of the boxes' gunicorn sockets, passive health checks, and a JSON access log that
names the box each request went to. What differs from the ALB, and why, is in docs/ha.md:
nginx has no active health check, so a box is dropped after a failed request rather than after
failed probes of /api/health/ready, and by default nginx retries a request that could not reach
a box on the next one, which the ALB never does (`retry=False` renders the ALB's way).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

import jinja2

TEMPLATE = Path(__file__).resolve().parent / "balancer.conf.j2"
ACCESS_LOG = "access.log"  # in the balancer's folder
_PATH = re.compile(r"/[A-Za-z0-9_./+-]*")
_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")


@dataclass(frozen=True)
class Balancer:
    """Everything the template needs; `check` refuses a value the template cannot carry."""

    port: int
    boxes: tuple[str, ...]  # the boxes' gunicorn sockets, one upstream server each
    folder: str  # pid file, temp files and access log live here
    user: str  # nginx's workers run as this user (whoever runs the local box)
    max_fails: int = 1  # failed attempts within fail_timeout that take a box out
    fail_timeout: int = 10  # seconds a failing box stays out before one request tries it
    connect_timeout: int = 2  # seconds to connect to a box (a unix socket: refusals are instant)
    idle_timeout: int = 60  # the ALB's default idle timeout
    retry: bool = True  # a request that reached no box goes to the next one (the ALB: never)
    error_log: str = "stderr"

    def check(self) -> None:
        """ValueError naming the first bad value."""
        if not 1 <= self.port <= 65535:
            raise ValueError(f"balancer: port={self.port!r} is not a TCP port")
        if not self.boxes:
            raise ValueError("balancer: no boxes to balance")
        for name in ("max_fails", "fail_timeout", "connect_timeout", "idle_timeout"):
            value = getattr(self, name)
            if not 1 <= value <= 3600:
                raise ValueError(f"balancer: {name}={value!r} is not between 1 and 3600")
        if not _USER.fullmatch(self.user):
            raise ValueError(f"balancer: user={self.user!r} is not a user name")
        for path in (*self.boxes, self.folder):
            if not _PATH.fullmatch(path) or "/../" in path:
                raise ValueError(f"balancer: {path!r} is not an absolute path nginx can take")

    def values(self) -> dict[str, object]:
        self.check()
        folder = Path(self.folder)
        return {
            **asdict(self),
            "pid_file": str(folder / "nginx.pid"),
            "temp_dir": str(folder / "tmp"),
            "access_log": str(self.access_log),
        }

    @property
    def access_log(self) -> Path:
        return Path(self.folder) / ACCESS_LOG


def render(balancer: Balancer, template: Path = TEMPLATE) -> str:
    """The config text; an undefined name in the template is an error, never an empty string."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)  # noqa: S701 (nginx config, not HTML)
    return env.from_string(template.read_text()).render(balancer.values())


def write_config(balancer: Balancer) -> Path:
    """Render into the balancer's folder (with its temp folder); the config's path."""
    folder = Path(balancer.folder)
    (folder / "tmp").mkdir(parents=True, exist_ok=True)
    path = folder / "nginx.conf"
    path.write_text(render(balancer))
    return path
