"""Child processes on 127.0.0.1: a free port to give one, one way to ask it over HTTP (a port
or a unix socket), and one way to stop one.

The local box, the tests and the benchmarks all start gunicorn, moto_server or the box itself
in a session of its own (`start_new_session=True`) and stop it with `stop`.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from typing import Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_status(url: str, timeout: float = 2.0) -> int:
    """The HTTP status of a GET on loopback, 4xx and 5xx included; 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback)
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def unix_request(
    socket_path: str | os.PathLike[str],
    method: str,
    path: str,
    body: bytes | None = None,
    timeout: float = 5.0,
) -> tuple[int, bytes]:
    """Send one HTTP request to a unix socket (a box's gunicorn); its status and body.

    OSError when nothing listens there (refused, or no socket file) or the answer breaks off.
    """
    connection = _UnixConnection(str(socket_path), timeout)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    except http.client.HTTPException as exc:
        raise OSError(f"unix:{socket_path}: {exc!r}") from None
    finally:
        connection.close()


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def stop(
    proc: subprocess.Popen[Any],
    grace: float,
    signum: int = signal.SIGTERM,
    *,
    whole_group: bool = False,
) -> int:
    """Send `signum` (SIGTERM: graceful for gunicorn), then SIGKILL the group after `grace` s.

    `whole_group` sends `signum` to the process group, as Ctrl-C in a terminal does. Whatever
    is left of the group once the process has exited is killed too, so no worker outlives its
    master. Returns the exit code (negative: the signal that ended it).
    """
    if proc.poll() is None:
        if whole_group:
            _signal_group(proc, signum)
        else:
            proc.send_signal(signum)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.kill()  # not a group leader: the group signal did not reach it
            proc.wait(timeout=10)
    _signal_group(proc, signal.SIGKILL)
    return proc.returncode


def _signal_group(proc: subprocess.Popen[Any], signum: int) -> None:
    """Signal the group `proc` leads; nothing when it leads none (started without a session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)
