"""Child processes: a free port, the status a GET gets, and stopping (signal, grace, then
SIGKILL to the whole group)."""

from __future__ import annotations

import http.server
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from localbox.processes import free_port, http_status, stop
from tests.support import wait_until

IGNORES_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
    " print('ready', flush=True); time.sleep(60)"
)


def _gone(pid: int) -> bool:
    """No such process, or only its zombie is left for the init process to reap."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace_period() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", IGNORES_SIGTERM], stdout=subprocess.PIPE, start_new_session=True
    )
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    assert stop(proc, grace=0.5) == -signal.SIGKILL
    proc.stdout.close()


def test_what_is_left_of_the_group_after_a_graceful_exit_is_killed() -> None:
    # The shell exits on SIGTERM at once; the sleep it started would outlive it.
    proc = subprocess.Popen(
        ["sh", "-c", "sleep 60 & echo $!; wait"], stdout=subprocess.PIPE, start_new_session=True
    )
    assert proc.stdout is not None
    orphan = int(proc.stdout.readline())
    assert stop(proc, grace=10) == -signal.SIGTERM
    wait_until(lambda: _gone(orphan), timeout=5, what=f"pid {orphan} to be killed")
    proc.stdout.close()


def test_a_process_that_already_exited_is_only_reaped() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    proc.wait(timeout=30)
    assert stop(proc, grace=1) == 3


def test_a_free_port_can_be_bound_at_once() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))


@pytest.fixture
def server() -> Iterator[str]:
    """The URL of a plain http.server on loopback (it answers 404 for what it does not have)."""
    httpd = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_get_reports_an_error_status_rather_than_raising(server: str) -> None:
    assert http_status(f"{server}/nothing") == 501  # the bare handler has no do_GET


def test_a_get_where_nothing_listens_is_status_zero() -> None:
    assert http_status(f"http://127.0.0.1:{free_port()}/") == 0
