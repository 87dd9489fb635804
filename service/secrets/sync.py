"""One run: read the stack from the bootstrap file, fetch both SecureStrings, write the files
that changed, reload their readers."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from botocore.exceptions import ClientError

from service import config, contract, logs
from service.secrets.files import SecretsDir, dsn_text, origin_map, pgpass_text, token_text

# Both readers are asked with try-reload-or-restart: a unit that is not running (the web
# service at boot, which this run comes before) is left alone and reads the file when it
# starts; a running one reloads (gunicorn: new workers, HUP). --no-block: a job for the reader
# may be waiting for this very run (After=), and waiting for it here would deadlock both.
RELOAD = ("--no-block", "try-reload-or-restart")
# `systemctl status` exits 4 for a unit the box does not have (nginx before it is installed).
NO_SUCH_UNIT = 4

Run = Callable[[Sequence[str]], int]


class StackUnknown(ValueError):
    """The bootstrap file is missing or does not name the stack; the message names the file."""


@dataclass(frozen=True)
class Box:
    """The box's paths under `root` ('/' on the box; a temporary directory in tests)."""

    root: Path

    def path(self, box_path: str) -> Path:
        return self.root / box_path.lstrip("/")


def stack_facts(box: Box) -> tuple[str, str]:
    """(stack, region) from the bootstrap's root-owned file, parsed, never sourced."""
    path = box.path(contract.BOOTSTRAP_ENV_FILE)
    try:
        values = config.parse_env_file(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StackUnknown(f"{path}: {exc}") from None
    stack = values.get("ONEBOX_STACK", "")
    if not stack:
        raise StackUnknown(f"{path}: ONEBOX_STACK is not set")
    return stack, values.get("AWS_REGION", "")


def fetch(ssm: Any, name: str) -> str | None:
    """The parameter's decrypted value; None when it does not exist."""
    try:
        answer = ssm.get_parameter(Name=name, WithDecryption=True)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise
    return str(answer["Parameter"]["Value"])


def systemctl(argv: Sequence[str]) -> int:
    """Run systemctl (found on PATH) with `argv`; its exit status (its output is dropped)."""
    return subprocess.run(
        ["systemctl", *argv], stdout=subprocess.DEVNULL, check=False, timeout=120
    ).returncode


def sync(box: Box, stack: str, ssm: Any, run: Run = systemctl, secrets: Any = None) -> bool:
    """Bring the files up to date; True when every reload asked for succeeded. `secrets` (a
    Secrets Manager client) is asked only where the stack names a database secret (ha)."""
    token_parameter = contract.api_token_parameter(stack)
    token = fetch(ssm, token_parameter)
    if token is None:
        raise LookupError(f"{token_parameter}: the parameter does not exist")
    origin_parameter = contract.origin_secret_parameter(stack)
    mapping = origin_map(origin_parameter, fetch(ssm, origin_parameter))
    files = (  # (file, its text, its reader's group, mode, the reader's unit)
        (
            contract.API_TOKEN_FILE,
            token_text(token_parameter, token),
            contract.WEB_GROUP,
            0o440,
            contract.WEB_UNIT,
        ),
        (contract.ORIGIN_MAP_FILE, mapping, contract.NGINX_GROUP, 0o640, contract.NGINX_UNIT),
        # None (no parameter: Sentry is off) removes the file.
        (contract.SENTRY_DSN_FILE, _dsn(stack, ssm), contract.WEB_GROUP, 0o440, contract.WEB_UNIT),
    )
    # topology ha: libpq's password file, the service user's own and 0600 (libpq ignores a
    # password file any group or other may read); None (single: no parameter) removes it.
    pgpass = _pgpass(stack, ssm, secrets)
    ok = True
    with SecretsDir(box.path(contract.SECRETS_DIR), contract.WEB_GROUP) as directory:
        for box_path, text, group, mode, unit in files:
            ok = _update(directory, box_path, text, group, mode, unit, run) and ok
        ok = _update(directory, contract.PGPASS_FILE, pgpass, contract.WEB_GROUP, 0o600,
                     contract.WEB_UNIT, run, owner=contract.WEB_USER) and ok  # fmt: skip
    return ok


def _pgpass(stack: str, ssm: Any, secrets: Any) -> str | None:
    """The password file's text from the RDS-managed secret the stack's parameter names."""
    secret_id = fetch(ssm, contract.database_secret_parameter(stack))
    if secret_id is None:
        return None
    if secrets is None:
        raise LookupError(f"{secret_id}: no Secrets Manager client to read it with")
    value = str(secrets.get_secret_value(SecretId=secret_id)["SecretString"])
    return pgpass_text(secret_id, value, contract.DATABASE_PORT, contract.DATABASE_NAME)


def _dsn(stack: str, ssm: Any) -> str | None:
    parameter = contract.sentry_dsn_parameter(stack)
    dsn = fetch(ssm, parameter)
    return None if dsn is None else dsn_text(parameter, dsn)


def _update(
    directory: SecretsDir,
    box_path: str,
    text: str | None,
    group: str,
    mode: int,
    unit: str,
    run: Run,
    owner: str | None = None,
) -> bool:
    """Write one file if it changed (remove it when `text` is None); reload its reader if a
    reload is pending."""
    name = PurePosixPath(box_path).name
    # Kept until the reader reloaded: a reload that failed is asked again on the next run,
    # though the file no longer changes.
    pending = f".{name}.reload"
    if text is None:
        if directory.remove(name):
            directory.mark(pending)
            logs.log_event("secret_file_removed", file=box_path)
    elif (written := directory.write_if_changed(name, text, group, mode, owner)).changed:
        directory.mark(pending)
        if written.group is None:
            logs.log_event("secret_file_root_only", logging.WARNING, file=box_path, group=group)
        logs.log_event("secret_file_written", file=box_path)
    if not directory.marked(pending):
        return True
    if not _reload(unit, run):
        return False
    directory.unmark(pending)
    return True


def _reload(unit: str, run: Run) -> bool:
    status = run([*RELOAD, unit])
    if status != 0 and run(["status", unit]) == NO_SUCH_UNIT:
        logs.log_event("secret_reader_absent", unit=unit)  # it reads the file if it ever starts
        return True
    level = logging.INFO if status == 0 else logging.ERROR
    logs.log_event("secret_reader_reloaded", level, unit=unit, status=status)
    return status == 0
