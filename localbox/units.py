"""Read the box's systemd units, and map the box's paths onto a folder on this machine.

The local box runs exactly what the units in service/deploy/ declare: their command lines and
environment are read from the files, never restated. Only paths move: the box's `current`
release is this checkout, its venv is the running virtualenv, and the state, runtime and config
directories live under one local folder.
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from service.contract import BACKUP_TIMER, CURRENT, ENV_FILE, RUNTIME_DIR, STATE_DIR, VENV

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "service" / "deploy"
# Prefixes systemd allows on Exec lines ("-" ignore failure, "@" argv0, "+!" privileges...).
EXEC_PREFIXES = "-@:+!"
# What the web unit's environment names that only a box has: onebox-secrets writes the token
# file there. Off the box (the local box, the tests) it is blanked, and APP_API_TOKEN (or none)
# is the token.
OFF_BOX = {"APP_API_TOKEN_FILE": ""}
# The one OnCalendar= shape whose runs are evenly spaced: every N minutes, N dividing an hour.
_EVERY_N_MINUTES = re.compile(r"\*-\*-\* \*:00/(\d+):00")


@dataclass(frozen=True)
class Unit:
    """The directives of one unit file that a local run needs: name -> values, in file order."""

    name: str
    directives: dict[str, list[str]]

    def values(self, key: str) -> list[str]:
        return self.directives.get(key, [])

    def one(self, key: str) -> str | None:
        values = self.values(key)
        return values[-1] if values else None

    def environment(self) -> dict[str, str]:
        """The Environment= assignments, later ones winning, as systemd reads them."""
        env: dict[str, str] = {}
        for value in self.values("Environment"):
            for word in shlex.split(value):
                name, _, val = word.partition("=")
                env[name] = val
        return env

    def commands(self, key: str) -> list[list[str]]:
        """Every Exec<key>= line as an argv, without systemd's prefixes."""
        return [shlex.split(line.lstrip(EXEC_PREFIXES)) for line in self.values(key)]


def read_unit(name: str, folder: Path = DEPLOY) -> Unit:
    """Parse `folder/name`; continuation lines and comments handled as systemd does."""
    directives: dict[str, list[str]] = {}
    pending = ""
    for raw in (folder / name).read_text().splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, sep, value = line.partition("=")
        if sep:
            directives.setdefault(key.strip(), []).append(value.strip())
    return Unit(name, directives)


def timer_interval(name: str = BACKUP_TIMER, folder: Path = DEPLOY) -> float:
    """Seconds between a timer's runs, from an `OnCalendar=*-*-* *:00/<N>:00` line.

    Anything else (several lines, other shapes, N not dividing an hour) is refused: its runs
    are not evenly spaced, and the local box runs on a fixed interval.
    """
    calendars = read_unit(name, folder).values("OnCalendar")
    shape = "one OnCalendar=*-*-* *:00/<minutes>:00 with minutes dividing 60"
    if len(calendars) != 1:
        raise ValueError(f"{name}: OnCalendar={calendars!r}: the local box needs {shape}")
    (calendar,) = calendars
    found = _EVERY_N_MINUTES.fullmatch(calendar)
    minutes = int(found.group(1)) if found else 0
    if not 0 < minutes <= 60 or 60 % minutes:
        raise ValueError(f"{name}: OnCalendar={calendar!r}: the local box needs {shape}")
    return minutes * 60.0


@dataclass(frozen=True)
class PathMap:
    """Where the box's directories are on this machine."""

    state: Path  # the local folder standing for /var/lib, /run and /etc of the box

    def table(self) -> list[tuple[str, str]]:
        venv = Path(sys.executable).parent.parent
        return [
            (CURRENT, str(ROOT)),
            (VENV, str(venv)),
            (STATE_DIR, str(self.state / "lib")),
            (RUNTIME_DIR, str(self.state / "run")),
            (str(PurePosixPath(ENV_FILE).parent), str(self.state / "etc")),
        ]

    def __call__(self, value: str) -> str:
        """`value` with every box path replaced by its local place."""
        for box, here in self.table():
            value = value.replace(box, here)
        return value

    def argv(self, argv: list[str]) -> list[str]:
        return [self(word) for word in argv]

    def env(self, env: dict[str, str]) -> dict[str, str]:
        return {name: self(value) for name, value in env.items()}
