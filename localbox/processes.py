"""Child processes on 127.0.0.1: a free port to give one, one way to ask one over HTTP, and one
way to stop one (a unix socket is asked with `service.publish.scrape.unix_request`).

The local box, the tests and the benchmarks all start gunicorn, moto_server or the box itself
in a session of its own (`start_new_session=True`) and stop it with `stop`.
"""

from __future__ import annotations

import contextlib
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
