"""One long-running process of the local box, restarted as systemd restarts a unit's."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from localbox.processes import stop
from localbox.units import ROOT, Unit


@dataclass
class Supervised:
    """One long-running process, restarted like systemd would (Restart=, RestartSec=)."""

    unit: Unit
    argv: list[str]
    env: dict[str, str]
    say: Callable[[str], None]
    pass_fds: tuple[int, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    died_at: float | None = None
    pidfile: Path | None = None
    restart_after: float | None = None  # seconds before a restart; None: the unit's RestartSec=

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            start_new_session=True,  # Ctrl-C is ours
            pass_fds=self.pass_fds,
        )
        if self.pidfile is not None:  # replaced atomically: a reader never sees it empty
            partial = self.pidfile.with_suffix(".pid.tmp")
            partial.write_text(f"{self.proc.pid}\n")
            partial.replace(self.pidfile)

    def check(self) -> None:
        """Restart the process if it has exited and the unit asks for restarts."""
        if self.proc is None or self.proc.poll() is None:
            return
        if self.unit.one("Restart") not in ("always", "on-failure", "on-abnormal"):
            return
        delay = self.restart_after
        if delay is None:
            delay = _seconds(self.unit.one("RestartSec") or "0.1")
        if self.died_at is None:
            self.died_at = time.monotonic()
            self.say(
                f"localbox: {self.unit.name} exited ({self.proc.returncode}); "
                f"restarting in {delay:g} s"
            )
        if time.monotonic() - self.died_at >= delay:
            self.died_at = None
            self.start()

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        stop(self.proc, grace=45.0)  # above gunicorn's graceful_timeout: requests drain
        return self.proc.returncode


def _seconds(value: str) -> float:
    """systemd time spans we use: '2', '2s', '500ms', '1min'."""
    for suffix, factor in (("ms", 0.001), ("min", 60.0), ("s", 1.0)):
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value)
