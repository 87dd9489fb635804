"""A throwaway PostgreSQL server on 127.0.0.1, from the binaries on this machine.

The local box's `ha` topology, the PostgreSQL store's tests and the drills start one the same
way: `initdb` into a folder of theirs (once; a second start reuses it), `postgres` listening on
127.0.0.1 and a unix socket in that folder, a database and a role both named `onebox`, trust
authentication on loopback. PostgreSQL refuses to run as root, so under root the server runs
as the `postgres` user (Debian's packages create it), which must be able to reach the folder.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from localbox.processes import free_port, stop

ROLE = "onebox"
DATABASE = "onebox"
# Debian installs the server outside the PATH; a version folder per major release.
_DEBIAN_BINS = "/usr/lib/postgresql/*/bin"


@dataclass(frozen=True)
class Postgres:
    """A running server: `url` is what APP_DATABASE_URL takes."""

    data: Path
    port: int
    pid: int

    @property
    def url(self) -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{DATABASE}"


def bin_dir() -> Path | None:
    """The folder holding `initdb` and `postgres` (PATH first, then Debian's), if any."""
    found = shutil.which("initdb")
    if found and shutil.which("postgres"):
        return Path(os.path.realpath(found)).parent
    for folder in sorted(Path("/").glob(_DEBIAN_BINS.lstrip("/")), reverse=True):  # newest first
        if (folder / "initdb").exists() and (folder / "postgres").exists():
            return folder
    return None


def missing() -> str | None:
    """Why no server can start here (a sentence for a skip or an error); None when one can."""
    if bin_dir() is None:
        return "PostgreSQL's initdb and postgres are not installed (apt-get install postgresql)"
    if os.geteuid() == 0 and _run_as() is None:
        return "running as root and there is no `postgres` user for PostgreSQL to run as"
    return None


@contextmanager
def running(folder: Path, port: int | None = None, timeout: float = 30.0) -> Iterator[Postgres]:
    """Serve a cluster in `folder` (initialised on first use) until the block ends."""
    problem = missing()
    if problem:
        raise RuntimeError(problem)
    bins = bin_dir()
    assert bins is not None
    folder.mkdir(parents=True, exist_ok=True)
    user = _run_as()
    if user is not None:
        _hand_over(folder, user)
    data = folder / "data"
    if not (data / "PG_VERSION").exists():
        _run(user, [str(bins / "initdb"), "-D", str(data), "-U", ROLE, "-A", "trust",
                    "-E", "UTF8", "--no-sync", "--no-instructions"])  # fmt: skip
    port = port or free_port()
    # The child gets its own copy of the log's descriptor; ours is closed once it has started.
    with (folder / "postgres.log").open("ab") as log:
        proc = subprocess.Popen(
            [
                str(bins / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-k",
                str(folder),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=100",
            ],
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    try:
        _wait_ready(bins, folder, port, proc, timeout)
        _create_database(bins, port)
        yield Postgres(data=data, port=port, pid=proc.pid)
    finally:
        stop(proc, grace=15, signum=signal.SIGINT)  # SIGINT: PostgreSQL's "fast" shutdown


def _run_as() -> pwd.struct_passwd | None:
    """The user the server runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return None


def _hand_over(folder: Path, user: pwd.struct_passwd) -> None:
    """Give `folder` to `user`, and check that it can reach it through every parent."""
    os.chown(folder, user.pw_uid, user.pw_gid)
    folder.chmod(0o700)
    for parent in folder.resolve().parents:
        if not parent.stat().st_mode & 0o001:
            raise RuntimeError(
                f"{parent} is not searchable by others, so PostgreSQL (running as "
                f"{user.pw_name!r}) cannot reach {folder}; put its folder elsewhere"
            )


def _run(user: pwd.struct_passwd | None, argv: list[str]) -> None:
    result = subprocess.run(
        argv,
        user=user.pw_uid if user else None,
        group=user.pw_gid if user else None,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{Path(argv[0]).name} failed: {result.stderr.strip()[-2000:]}")


def _wait_ready(
    bins: Path, folder: Path, port: int, proc: subprocess.Popen[bytes], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = (folder / "postgres.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"postgres exited with {proc.returncode}: {log}")
        probe = subprocess.run(
            [str(bins / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)], check=False
        )
        if probe.returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"postgres did not accept connections on 127.0.0.1:{port} in {timeout} s")


def _create_database(bins: Path, port: int) -> None:
    """CREATE DATABASE onebox, unless a previous start made it."""
    psql = [str(bins / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", ROLE, "-d", "postgres",
            "-tAc"]  # fmt: skip
    query = f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"  # noqa: S608 (a constant)
    found = subprocess.run([*psql, query], capture_output=True, text=True, check=False)
    if found.stdout.strip() != "1":
        _run(None, [*psql, f"CREATE DATABASE {DATABASE}"])
