"""The local box holds the listening socket as onebox.socket does: restarts queue, not refuse."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from localbox.listen import activated, listening_socket, unix_listening_socket
from localbox.units import read_unit
from service.contract import GUNICORN_SOCKET, SOCKET_UNIT
from tests.support import free_port

# What gunicorn checks before it takes fd 3 (gunicorn.systemd.listen_fds).
PROBE = (
    "import os, socket; assert os.environ['LISTEN_PID'] == str(os.getpid()); "
    "s = socket.socket(fileno=3); c, _ = s.accept(); c.sendall(os.environ['LISTEN_FDS'].encode())"
)


def test_the_socket_takes_the_socket_units_backlog_and_refuses_a_taken_port() -> None:
    port = free_port()
    with listening_socket(port) as held:
        assert held.getsockname() == ("127.0.0.1", port)
        try:
            listening_socket(port)
        except OSError as exc:
            assert f"127.0.0.1:{port} is taken" in str(exc)
        else:
            raise AssertionError("a second bind on a held port must fail")


def test_a_connection_made_before_the_program_starts_waits_and_is_served(tmp_path: Path) -> None:
    port = free_port()
    with (
        listening_socket(port) as held,
        socket.create_connection(("127.0.0.1", port), timeout=10) as early,  # nobody accepts yet
    ):
        proc = subprocess.run(
            activated([sys.executable, "-c", PROBE], held.fileno()),
            pass_fds=(held.fileno(),),
            env={**os.environ},
            timeout=30,
            check=False,
        )
        assert proc.returncode == 0
        assert early.recv(16) == b"1"


def test_the_socket_unit_listens_on_gunicorns_socket() -> None:
    assert read_unit(SOCKET_UNIT).values("ListenStream") == [GUNICORN_SOCKET]


def test_a_unix_socket_replaces_a_stale_file_and_queues_connections(tmp_path: Path) -> None:
    path = tmp_path / "run" / "gunicorn.sock"
    path.parent.mkdir()
    path.write_text("left by a killed run")
    with (
        unix_listening_socket(path) as held,
        socket.socket(socket.AF_UNIX) as early,
    ):
        early.connect(str(path))  # nobody accepts yet: it waits in the backlog
        accepted, _ = held.accept()
        accepted.close()
        assert path.stat().st_mode & 0o777 == 0o660
