"""`python -m service.agent [--force]`: apply the published settings, then deploy the
published release if it is new.

Exit codes: 0 deployed or nothing to do, 1 failed (rolled back when a previous release was
live; or the settings could not be applied), 2 usage or configuration error. Only one run at a
time (a lock file in the root). A settings failure does not stop the deploy step.
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import subprocess
import sys
from collections.abc import Sequence

from botocore.exceptions import BotoCoreError, ClientError

from service import config
from service.agent import source
from service.agent.deploy import FAILED, OK, Deployer
from service.agent.envfile import SettingsSync
from service.agent.settings import AgentSettings
from service.logs import configure, log_event
from service.pointer import ReleaseError

USAGE = 2
# What a run expects to meet and survives: AWS refusing or unreachable, a command or a file
# failing. Anything else is a bug and ends the run with its traceback.
EXPECTED = (ClientError, BotoCoreError, subprocess.SubprocessError, OSError)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m service.agent", description=__doc__)
    parser.add_argument(
        "--force", action="store_true", help="try a version even if it was rolled back before"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run once; return the exit code."""
    args = parse_args(argv)
    configure()
    try:
        settings = AgentSettings.from_config(config.from_environ(os.environ))
    except config.ConfigError as exc:
        log_event("agent_misconfigured", level=logging.ERROR, error=str(exc))
        return USAGE
    settings.root.mkdir(parents=True, exist_ok=True)
    with (settings.root / "agent.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log_event("agent_busy", message="another run holds the lock")
            return OK
        ssm, s3 = source.clients()
        applied = apply_settings(settings, ssm)
        try:
            return max(Deployer(settings, ssm, s3).run(force=args.force), applied)
        except (ReleaseError, *EXPECTED) as exc:
            return _failed("deploy_failed", exc)


def apply_settings(settings: AgentSettings, ssm: object) -> int:
    """The settings step (service.agent.envfile); OK when there is none to apply."""
    if not settings.settings_parameter:
        return OK
    sync = SettingsSync(
        ssm, settings.settings_parameter, settings.env_file, settings.restart_command
    )
    try:
        sync.run()
    except (config.ConfigError, *EXPECTED) as exc:
        return _failed("settings_failed", exc, parameter=settings.settings_parameter)
    return OK


def _failed(event: str, exc: Exception, **fields: str) -> int:
    """Log the failure as one JSON event naming the error; the run's exit code is 1."""
    log_event(event, level=logging.ERROR, error=type(exc).__name__, errorMessage=str(exc), **fields)
    return FAILED


if __name__ == "__main__":
    sys.exit(main())
