"""nginx in front of the local box, from the box's own template (service/deploy/nginx/).

The config is rendered by the same renderer as on the box, with the box's paths moved under the
local state folder (gunicorn's socket where `PathMap` puts the runtime directory), listening on
127.0.0.1 only, and an origin map that trusts every request: locally there is no edge.
The tests use the same helpers with their own limits and timeouts.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from localbox.processes import stop
from service.deploy.nginx.render import NginxConfig, origin_map, render

NGINX = "nginx"


def nginx_binary() -> str | None:
    """The nginx on the PATH (or in /usr/sbin, where distributions put it), if any."""
    return shutil.which(NGINX) or shutil.which(NGINX, path="/usr/sbin:/usr/local/sbin")


def local_config(
    folder: Path, port: int, gunicorn_socket: Path, settings: Mapping[str, str], **more: Any
) -> NginxConfig:
    """The box's config for this machine: paths under `folder`, 127.0.0.1:`port`, the APP_*
    `settings` (body limit, rates); `more` overrides any field (the tests' short timeouts)."""
    fields: dict[str, Any] = {
        "host": "127.0.0.1",
        "user": worker_user(),
        "gunicorn_socket": str(gunicorn_socket),
        "origin_map": str(folder / "origin.conf"),
        "pid_file": str(folder / "nginx.pid"),
        "error_log": "stderr",
        "access_log": str(folder / "access.log"),
        "temp_dir": str(folder / "tmp"),
        **more,
    }
    return NginxConfig.from_environ({**settings, "ONEBOX_HTTP_PORT": str(port)}, **fields)


def worker_user() -> str:
    """The user nginx's workers run as locally: whoever runs this."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return "nobody"


def write_config(folder: Path, config: NginxConfig, origin: str | None = None) -> Path:
    """Render `config` into `folder`/nginx.conf beside its origin map; returns the config's path.

    `origin`: the edge's secret the map requires; None trusts every request (no edge)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tmp").mkdir(exist_ok=True)
    Path(config.origin_map).write_text(
        origin_map(origin) if origin is not None else origin_map(trust=True)
    )
    path = folder / "nginx.conf"
    path.write_text(render(config))
    return path


def command(nginx: str, conf: Path, *extra: str) -> list[str]:
    """nginx with its prefix and config in the config's folder, errors on stderr."""
    return [nginx, "-p", f"{conf.parent}/", "-c", str(conf), "-e", "stderr", *extra]


def check(nginx: str, conf: Path) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on `conf`."""
    return subprocess.run(
        command(nginx, conf, "-t"), capture_output=True, text=True, timeout=30, check=False
    )


@contextmanager
def running(nginx: str, conf: Path, port: int, timeout: float = 15.0) -> Iterator[Any]:
    """nginx in the foreground on `conf` until the block ends; waits until it listens."""
    with (conf.parent / "nginx.stderr").open("ab") as stderr:
        proc = subprocess.Popen(
            command(nginx, conf, "-g", "daemon off;"), stderr=stderr, start_new_session=True
        )
    try:
        deadline = time.monotonic() + timeout
        while not _listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"nginx did not start on port {port}: "
                    f"{(conf.parent / 'nginx.stderr').read_text()[-2000:]}"
                )
            time.sleep(0.05)
        yield proc
    finally:
        stop(proc, grace=10)  # SIGTERM: nginx's fast shutdown


def _listening(port: int) -> bool:
    """Whether nginx accepts connections (gunicorn behind it may not be up yet: the socket
    holds requests until it is, so an HTTP answer is no sign of nginx being up)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
