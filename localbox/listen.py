"""The listening socket: held by the box, as onebox.socket holds it on EC2.

systemd owns the port on the instance and hands it to gunicorn (socket activation), so while
gunicorn restarts, connections wait in the backlog instead of being refused. The local box does
the same: it binds 127.0.0.1:<port> once with the socket unit's Backlog= and passes it to every
gunicorn it starts, as fd 3 with LISTEN_FDS=1 and LISTEN_PID set to gunicorn's own pid.
With nginx in front (localbox.edge), the socket is the unit's: a unix socket at its
ListenStream= path, moved under the local state folder.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from localbox.units import DEPLOY, read_unit
from service.contract import SOCKET_UNIT


def listening_socket(port: int, folder: Path = DEPLOY) -> socket.socket:
    """Bind and listen on 127.0.0.1:`port` with the backlog the socket unit declares."""
    backlog = int(read_unit(SOCKET_UNIT, folder).one("Backlog") or socket.SOMAXCONN)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise OSError(f"127.0.0.1:{port} is taken: {exc.strerror}") from None
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def unix_listening_socket(path: Path, folder: Path = DEPLOY) -> socket.socket:
    """Bind and listen on the unix socket `path` (the socket unit's ListenStream=, mapped) with
    its Backlog=; a file left there by an earlier run is replaced."""
    backlog = int(read_unit(SOCKET_UNIT, folder).one("Backlog") or socket.SOMAXCONN)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
    except OSError as exc:
        sock.close()
        raise OSError(f"{path}: cannot listen here: {exc.strerror}") from None
    path.chmod(0o660)  # the unit's SocketMode=
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


# Runs in the child: fd 3 is the socket, LISTEN_PID its own pid, then it becomes the program.
_EXEC_ACTIVATED = (
    "import os, sys; fd = int(sys.argv[1]); os.dup2(fd, 3); os.close(fd) if fd != 3 else None; "
    "os.environ.update(LISTEN_FDS='1', LISTEN_PID=str(os.getpid())); "
    "os.execvp(sys.argv[2], sys.argv[2:])"
)


def activated(argv: list[str], fd: int) -> list[str]:
    """`argv` started the way systemd starts a socket-activated service.

    LISTEN_PID must be the pid of the program itself, so a small launcher sets it to its own
    pid and then execs the program, which keeps that pid. (A shell would do, but dash cannot
    redirect a file descriptor above 9.)
    """
    return [sys.executable, "-c", _EXEC_ACTIVATED, str(fd), *argv]
