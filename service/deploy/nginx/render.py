"""Render the nginx config (onebox.conf.template, beside this file) from validated values.

Stdlib only and Python 3.9: on the box, root runs a root-owned copy of this file and the
template (placed by install.d/30-nginx.sh) with the system python, before nginx starts and
on every reload, so new APP_* settings reach nginx without replacing the box. `make local`
and the tests import it and render the same template with their own paths and ports.

    python3 render.py --template onebox.conf.template --out /etc/nginx/nginx.conf

The box's values come from the environment (onebox.env and bootstrap.env, which nginx's
drop-in names): APP_MAX_BODY_BYTES, APP_RATE_WRITES_PER_MINUTE, APP_RATE_READS_PER_MINUTE,
ONEBOX_HTTP_PORT.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import string
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "onebox.conf.template"
# The same facts as service/contract.py (a test holds them equal): this file runs without it.
GUNICORN_SOCKET = "/run/onebox/gunicorn.sock"
ORIGIN_MAP_FILE = "/etc/onebox/secrets/origin.conf"
ORIGIN_HEADER = "X-Onebox-Origin"
# Defaults of the settings, as service/config.py and the stack's config state them.
DEFAULTS = {
    "APP_MAX_BODY_BYTES": "4096",
    "APP_RATE_WRITES_PER_MINUTE": "120",
    "APP_RATE_READS_PER_MINUTE": "600",
    "ONEBOX_HTTP_PORT": "80",
}
BURST_SECONDS = 10  # a client may spend this many seconds' worth of its rate at once

_PATH = re.compile(r"/[A-Za-z0-9_./+-]*")
_SYSLOG = re.compile(r"syslog:server=unix:/dev/log(,[a-z]+(=[A-Za-z0-9_]+)?)*")
_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_HEADER = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_HOST = re.compile(r"(127\.0\.0\.1|\[::1\])")


@dataclass(frozen=True)
class NginxConfig:
    """Everything the template needs; `check` refuses a value the template cannot carry."""

    port: int
    max_body_bytes: int
    writes_per_minute: int
    reads_per_minute: int
    host: str = ""  # empty: every address (the box); 127.0.0.1 locally
    user: str = "nginx"
    gunicorn_socket: str = GUNICORN_SOCKET
    origin_map: str = ORIGIN_MAP_FILE
    origin_header: str = ORIGIN_HEADER
    pid_file: str = "/run/nginx.pid"
    error_log: str = "stderr"  # journald under systemd
    access_log: str = "syslog:server=unix:/dev/log,tag=nginx,nohostname"  # journald too
    temp_dir: str = "/var/lib/nginx/tmp"
    header_timeout: int = 10
    body_timeout: int = 10

    def check(self) -> None:
        """ValueError naming the first bad value."""
        for name in ("port",):
            _int_between(name, self.port, 1, 65535)
        _int_between("max_body_bytes", self.max_body_bytes, 1, 1 << 30)
        _int_between("writes_per_minute", self.writes_per_minute, 1, 1_000_000)
        _int_between("reads_per_minute", self.reads_per_minute, 1, 1_000_000)
        _int_between("header_timeout", self.header_timeout, 1, 3600)
        _int_between("body_timeout", self.body_timeout, 1, 3600)
        if self.host and not _HOST.fullmatch(self.host):
            raise ValueError(f"nginx: host={self.host!r} is not a loopback address")
        if not _USER.fullmatch(self.user):
            raise ValueError(f"nginx: user={self.user!r} is not a user name")
        if not _HEADER.fullmatch(self.origin_header):
            raise ValueError(f"nginx: origin_header={self.origin_header!r} is not a header name")
        for name in ("gunicorn_socket", "origin_map", "pid_file", "temp_dir"):
            _path(name, getattr(self, name))
        if self.error_log != "stderr":
            _path("error_log", self.error_log)
        if not _SYSLOG.fullmatch(self.access_log):
            _path("access_log", self.access_log)

    def values(self) -> dict[str, str]:
        """The template's placeholders."""
        self.check()
        listen = f"{self.host}:{self.port}" if self.host else str(self.port)
        plain = {k: str(v) for k, v in asdict(self).items() if k not in ("host", "port")}
        return {
            **plain,
            "listen": listen,
            "writes_burst": str(burst(self.writes_per_minute)),
            "reads_burst": str(burst(self.reads_per_minute)),
            "write_retry_after": str(math.ceil(60 / self.writes_per_minute)),
            "read_retry_after": str(math.ceil(60 / self.reads_per_minute)),
        }

    @staticmethod
    def from_environ(environ: Mapping[str, str], **paths: object) -> NginxConfig:
        """The box's config from APP_* settings and ONEBOX_HTTP_PORT (defaults when unset)."""
        value = {name: environ.get(name) or default for name, default in DEFAULTS.items()}
        return NginxConfig(
            port=_int("ONEBOX_HTTP_PORT", value["ONEBOX_HTTP_PORT"]),
            max_body_bytes=_int("APP_MAX_BODY_BYTES", value["APP_MAX_BODY_BYTES"]),
            writes_per_minute=_int(
                "APP_RATE_WRITES_PER_MINUTE", value["APP_RATE_WRITES_PER_MINUTE"]
            ),
            reads_per_minute=_int("APP_RATE_READS_PER_MINUTE", value["APP_RATE_READS_PER_MINUTE"]),
            **paths,  # type: ignore[arg-type]
        )


def burst(per_minute: int) -> int:
    """Requests a client may make at once beyond its rate (nginx takes no burst below 1)."""
    return max(1, per_minute * BURST_SECONDS // 60)


def render(config: NginxConfig, template: Path = TEMPLATE) -> str:
    """The config text; KeyError names a placeholder the values lack."""
    return string.Template(template.read_text()).substitute(config.values())


def origin_map(secret: str | None = None, *, trust: bool = False) -> str:
    """The origin map's text: requests carrying `secret` count as the edge's; `trust` counts
    every request as one (no edge in front, as locally); neither: none does (fail closed)."""
    lines = ["map $http_x_onebox_origin $onebox_from_edge {"]
    lines.append(f"    default {1 if trust else 0};")
    if secret is not None:
        if not re.fullmatch(r"[A-Za-z0-9]{32,64}", secret):
            raise ValueError("origin secret: not 32-64 letters and digits")
        lines.append(f'    "{secret}" 1;')
    return "\n".join([*lines, "}"]) + "\n"


def _int(name: str, text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,10}", text):
        raise ValueError(f"{name}={text!r} is not a whole number")
    return int(text)


def _int_between(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"nginx: {name}={value!r} is not between {low} and {high}")


def _path(name: str, value: str) -> None:
    if not _PATH.fullmatch(value) or "/../" in value or value.endswith("/.."):
        raise ValueError(f"nginx: {name}={value!r} is not an absolute path nginx can take")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="render the box's nginx config")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        text = render(NginxConfig.from_environ(os.environ), args.template)
    except ValueError as exc:
        print(f"onebox-nginx-render: {exc}", file=sys.stderr)
        return 1
    partial = args.out.with_name(args.out.name + ".tmp")
    partial.write_text(text)
    partial.chmod(0o644)
    partial.replace(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
