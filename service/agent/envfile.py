"""The agent's settings step: keep the env file equal to the settings parameter.

The stack publishes the env file's text (APP_* settings) in an SSM String parameter. Each run
reads it; when its values differ from the file's, the file is rewritten and the long-running
processes that read it are restarted (a HUP would keep gunicorn's old environment; the socket
holds the port, so requests wait rather than fail). Each outcome is one JSON event.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service import config
from service.logs import log_event


def parse(text: str) -> dict[str, str]:
    """The env file's values (the contract's format); ConfigError names a bad line."""
    try:
        return config.parse_env_file(text)
    except ValueError as exc:
        raise config.ConfigError(f"settings: {exc}") from None


def _write(path: Path, text: str) -> None:
    """Replace the file atomically; in place when its directory is not ours to write."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        temporary.write_text(text)
    except PermissionError:
        path.write_text(text)  # one small write: systemd reads the file only when a unit starts
        return
    temporary.chmod(0o644)  # the units' users read it; it holds no secret
    temporary.replace(path)


@dataclass(frozen=True)
class SettingsSync:
    """One settings step: the parameter, the file it becomes, and what reads the file again."""

    ssm: Any
    parameter: str
    path: Path
    restart_command: Sequence[str]

    def run(self) -> bool:
        """Rewrite the env file if the parameter's values changed; True when it did."""
        text = self.ssm.get_parameter(Name=self.parameter)["Parameter"]["Value"]
        wanted = parse(text)
        config.from_environ(wanted)  # no process would start with a bad value: refuse it
        current = self._current()
        if current == wanted:
            log_event("settings_unchanged", parameter=self.parameter)
            return False
        _write(self.path, config.env_file_text(wanted))
        changed = sorted(
            k for k in wanted.keys() | current.keys() if wanted.get(k) != current.get(k)
        )
        log_event(
            "settings_changed", parameter=self.parameter, path=str(self.path), changed=changed
        )
        subprocess.run(list(self.restart_command), check=True, timeout=120)
        log_event("settings_applied", command=list(self.restart_command))
        return True

    def _current(self) -> dict[str, str]:
        if not self.path.is_file():
            return {}
        try:
            return parse(self.path.read_text())
        except config.ConfigError:
            return {}  # a hand-edited file that no longer parses is replaced
