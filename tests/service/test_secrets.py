"""`python -m service.secrets` against moto_server: the box's paths under a temporary root
(ONEBOX_ROOT), a stand-in `systemctl` on PATH that records what it is asked, and, at the end, a
real gunicorn that takes a rotated token with a HUP."""

from __future__ import annotations

import importlib.util
import os
import signal
import stat
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from service import config, contract
from tests.service.conftest import Service
from tests.support import ROOT, wait_until


@dataclass
class Box:
    root: Path
    stack: str
    env: dict[str, str]
    calls: Path
    ssm: Any

    def run(
        self, systemctl_status: int = 0, nginx_absent: bool = False
    ) -> subprocess.CompletedProcess[str]:
        env = {
            **self.env,
            "SYSTEMCTL_STATUS": str(systemctl_status),
            "NGINX_ABSENT": "1" if nginx_absent else "0",
        }
        return subprocess.run(
            [sys.executable, "-m", "service.secrets"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def put(self, parameter: str, value: str) -> None:
        self.ssm.put_parameter(Name=parameter, Value=value, Type="SecureString", Overwrite=True)

    def put_token(self, token: str) -> None:
        self.put(contract.api_token_parameter(self.stack), token)

    def put_origin_secret(self, secret: str) -> None:
        self.put(contract.origin_secret_parameter(self.stack), secret)

    def file(self, box_path: str) -> Path:
        return self.root / box_path.lstrip("/")

    def reloads(self) -> list[str]:
        return self.calls.read_text().splitlines() if self.calls.exists() else []


@pytest.fixture
def box(tmp_path: Path, aws_env: dict[str, str]) -> Box:
    stack = f"t{uuid.uuid4().hex[:10]}"
    root = tmp_path / "root"
    bootstrap = root / contract.BOOTSTRAP_ENV_FILE.lstrip("/")
    bootstrap.parent.mkdir(parents=True)
    facts = {"ONEBOX_STACK": stack, "AWS_REGION": aws_env["AWS_REGION"]}
    bootstrap.write_text(config.env_file_text(facts))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "systemctl-calls"
    stand_in = bin_dir / "systemctl"
    stand_in.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {calls}\n'
        # NGINX_ABSENT: the box has no nginx (status 4: no such unit; a reload fails)
        'case "$NGINX_ABSENT $*" in 1*status*nginx*) exit 4 ;; 1*nginx*) exit 5 ;; esac\n'
        'exit "$SYSTEMCTL_STATUS"\n'
    )
    stand_in.chmod(0o755)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("APP_", "ONEBOX_"))},
        **aws_env,
        "ONEBOX_ROOT": str(root),
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
    }
    return Box(root, stack, env, calls, boto3.client("ssm"))


def token() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex[:8]


WEB_RELOAD = f"--no-block try-reload-or-restart {contract.WEB_UNIT}"
NGINX_RELOAD = f"--no-block try-reload-or-restart {contract.NGINX_UNIT}"


def test_a_rotated_token_reaches_its_file_with_one_reload_and_nothing_when_unchanged(
    box: Box,
) -> None:
    a, b = token(), token()
    box.put_token(a)
    first = box.run()
    assert first.returncode == 0, first.stdout + first.stderr
    token_file = box.file(contract.API_TOKEN_FILE)
    assert token_file.read_text() == f"{a}\n"
    assert box.reloads().count(WEB_RELOAD) == 1

    again = box.run()
    assert again.returncode == 0, again.stdout + again.stderr
    assert box.reloads().count(WEB_RELOAD) == 1, "an unchanged token reloaded the service"

    box.put_token(b)
    rotated = box.run()
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert token_file.read_text() == f"{b}\n"
    assert box.reloads().count(WEB_RELOAD) == 2
    assert box.reloads().count(NGINX_RELOAD) == 1  # the map did not change


def test_the_secret_files_are_never_readable_by_others(box: Box) -> None:
    box.put_token(token())
    assert box.run().returncode == 0
    for box_path in (contract.API_TOKEN_FILE, contract.ORIGIN_MAP_FILE, contract.SECRETS_DIR):
        mode = stat.S_IMODE(box.file(box_path).stat().st_mode)
        assert mode & 0o007 == 0, (box_path, oct(mode))
        assert mode & 0o020 == 0, (box_path, oct(mode))  # the reader's group only reads
    assert stat.S_IMODE(box.file(contract.API_TOKEN_FILE).stat().st_mode) & 0o200 == 0


def test_without_an_origin_secret_the_map_lets_every_request_through(box: Box) -> None:
    box.put_token(token())
    result = box.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert box.file(contract.ORIGIN_MAP_FILE).read_text() == (
        "map $http_x_onebox_origin $onebox_from_edge {\n    default 1;\n}\n"
    )
    assert box.reloads().count(NGINX_RELOAD) == 1


def test_with_an_origin_secret_only_requests_carrying_it_are_from_the_edge(box: Box) -> None:
    box.put_token(token())
    assert box.run().returncode == 0
    secret = uuid.uuid4().hex
    box.put_origin_secret(secret)
    result = box.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert box.file(contract.ORIGIN_MAP_FILE).read_text() == (
        f'map $http_x_onebox_origin $onebox_from_edge {{\n    default 0;\n    "{secret}" 1;\n}}\n'
    )
    assert box.reloads().count(NGINX_RELOAD) == 2
    assert box.reloads().count(WEB_RELOAD) == 1  # the token did not change


def test_an_origin_secret_that_could_break_the_nginx_config_is_refused(box: Box) -> None:
    box.put_token(token())
    box.put_origin_secret('abc" 1; } server { listen 81; ' + "x" * 32)
    result = box.run()
    assert result.returncode == 1
    assert "origin-secret" in result.stdout
    assert not box.file(contract.ORIGIN_MAP_FILE).exists()


def test_a_reload_that_failed_is_asked_again_on_the_next_run(box: Box) -> None:
    box.put_token(token())
    assert box.run(systemctl_status=1).returncode == 1
    assert box.reloads().count(WEB_RELOAD) == 1
    assert box.run().returncode == 0
    assert box.reloads().count(WEB_RELOAD) == 2
    assert box.run().returncode == 0
    assert box.reloads().count(WEB_RELOAD) == 2


def test_a_box_without_nginx_still_gets_its_map_and_needs_no_reload_of_it(box: Box) -> None:
    box.put_token(token())
    result = box.run(nginx_absent=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "secret_reader_absent" in result.stdout
    assert box.file(contract.ORIGIN_MAP_FILE).is_file()
    assert box.run(nginx_absent=True).returncode == 0
    assert box.reloads().count(NGINX_RELOAD) == 1  # not asked again


def test_a_missing_token_parameter_fails_naming_it_and_writes_nothing(box: Box) -> None:
    result = box.run()
    assert result.returncode == 1
    assert contract.api_token_parameter(box.stack) in result.stdout
    assert not box.file(contract.API_TOKEN_FILE).exists()
    assert box.reloads() == []


def test_without_the_bootstrap_file_it_fails_naming_the_file(box: Box) -> None:
    box.file(contract.BOOTSTRAP_ENV_FILE).unlink()
    result = box.run()
    assert result.returncode == 1
    assert contract.BOOTSTRAP_ENV_FILE in result.stdout


def test_no_secret_ever_reaches_the_log(box: Box) -> None:
    a, b, secret = token(), token(), uuid.uuid4().hex
    box.put_token(a)
    box.put_origin_secret(secret)
    outputs = [box.run(), box.run(systemctl_status=1)]
    box.put_token(b)
    outputs += [box.run(), box.run()]
    text = "".join(result.stdout + result.stderr for result in outputs)
    assert "secret_file_written" in text
    for value in (a, b, secret):
        assert value not in text


def test_gunicorn_refuses_the_old_token_after_a_rotation_and_a_hup(
    box: Box, start_service: Any
) -> None:
    a, b = token(), token()
    box.put_token(a)
    assert box.run().returncode == 0
    token_file = box.file(contract.API_TOKEN_FILE)
    service: Service = start_service(APP_API_TOKEN_FILE=str(token_file))
    url = f"{service.url}/api/users/rotating/mute"

    def status(bearer: str) -> int:
        headers = {"Authorization": f"Bearer {bearer}"}
        return requests.patch(url, json={"isMuted": True}, headers=headers, timeout=5).status_code

    assert status(a) == 200
    box.put_token(b)
    assert box.run().returncode == 0
    assert token_file.read_text() == f"{b}\n"
    assert status(a) == 200, "the running workers keep the token they started with"
    service.signal(signal.SIGHUP)  # what `systemctl reload onebox.service` sends
    wait_until(lambda: status(a) == 401, what="the new workers to refuse the old token")
    assert status(b) == 200
    for line in service.stdout.read_text().splitlines() + service.stderr.read_text().splitlines():
        assert a not in line and b not in line


# -- the optional Sentry DSN -----------------------------------------------------------------
DSN = "https://0123456789abcdef@o1.ingest.sentry.io/42"


def test_without_a_dsn_parameter_there_is_no_dsn_file(box: Box) -> None:
    box.put_token(token())
    result = box.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert not box.file(contract.SENTRY_DSN_FILE).exists()
    assert box.reloads().count(WEB_RELOAD) == 1  # the token's, not the DSN's


def test_a_dsn_reaches_its_file_for_the_web_service_and_leaves_with_its_parameter(
    box: Box,
) -> None:
    box.put_token(token())
    box.put(contract.sentry_dsn_parameter(box.stack), DSN)
    outputs = [box.run()]
    assert outputs[0].returncode == 0, outputs[0].stdout + outputs[0].stderr
    dsn_file = box.file(contract.SENTRY_DSN_FILE)
    assert dsn_file.read_text() == f"{DSN}\n"
    assert stat.S_IMODE(dsn_file.stat().st_mode) & 0o227 == 0  # root writes, the group reads
    reloads = box.reloads().count(WEB_RELOAD)

    box.ssm.delete_parameter(Name=contract.sentry_dsn_parameter(box.stack))
    outputs += [box.run(), box.run()]
    assert all(result.returncode == 0 for result in outputs)
    assert not dsn_file.exists()
    assert box.reloads().count(WEB_RELOAD) == reloads + 1  # once when it left, not again
    text = "".join(result.stdout + result.stderr for result in outputs)
    assert "secret_file_removed" in text and DSN not in text and "0123456789abcdef" not in text


def test_a_dsn_that_is_not_a_url_is_refused_naming_the_parameter_not_the_value(
    box: Box,
) -> None:
    box.put_token(token())
    box.put(contract.sentry_dsn_parameter(box.stack), "not a dsn secretvalue")
    result = box.run()
    assert result.returncode != 0
    assert contract.sentry_dsn_parameter(box.stack) in result.stdout + result.stderr
    assert "secretvalue" not in result.stdout + result.stderr


# -- topology ha: the RDS-managed secret becomes libpq's password file ---------------------------
def put_database_secret(box: Box, value: str) -> str:
    """The secret as RDS keeps it (JSON), and the stack's parameter naming it; its ARN."""
    secrets = boto3.client("secretsmanager")
    name = f"rds!db-{box.stack}"
    try:
        arn = secrets.create_secret(Name=name, SecretString=value)["ARN"]
    except secrets.exceptions.ResourceExistsException:
        arn = secrets.put_secret_value(SecretId=name, SecretString=value)["ARN"]
    box.ssm.put_parameter(
        Name=contract.database_secret_parameter(box.stack), Value=arn, Type="String", Overwrite=True
    )
    return str(arn)


def libpq_warnings(passfile: Path) -> str:
    """What libpq says of the password file when it connects with it (to a closed port)."""
    if importlib.util.find_spec("psycopg") is None:  # the PostgreSQL store's client
        message = "psycopg is not installed (requirements.txt pins it for the PostgreSQL store)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    code = (
        "import psycopg, sys\n"
        "try:\n"
        f"    psycopg.connect('host=127.0.0.1 port=1 user=onebox dbname=onebox "
        f"passfile={passfile} connect_timeout=1')\n"
        "except psycopg.OperationalError:\n"
        "    pass\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    return result.stderr


def test_the_rds_secret_becomes_a_password_file_only_its_owner_reads(box: Box) -> None:
    box.put_token(token())
    put_database_secret(box, '{"username": "onebox", "password": "pa:ss\\\\word"}')
    result = box.run()
    assert result.returncode == 0, result.stdout + result.stderr
    passfile = box.file(contract.PGPASS_FILE)
    assert passfile.read_text() == f"*:{contract.DATABASE_PORT}:onebox:onebox:pa\\:ss\\\\word\n"
    assert stat.S_IMODE(passfile.stat().st_mode) == 0o600
    assert "password file" not in libpq_warnings(passfile)  # libpq takes it as it is
    assert "pa:ss" not in result.stdout + result.stderr


def test_a_group_readable_password_file_is_one_libpq_ignores(box: Box) -> None:
    """Why the file is 0600 and the service user's: libpq refuses any group or other bit."""
    passfile = box.root / "pgpass"
    passfile.parent.mkdir(parents=True, exist_ok=True)
    passfile.write_text("*:5432:onebox:onebox:x\n")
    passfile.chmod(0o640)
    assert "has group or world access" in libpq_warnings(passfile)


def test_a_rotated_database_password_rewrites_the_file_and_reloads_the_service(
    box: Box,
) -> None:
    box.put_token(token())
    put_database_secret(box, '{"username": "onebox", "password": "first"}')
    assert box.run().returncode == 0
    reloads = box.reloads().count(WEB_RELOAD)
    put_database_secret(box, '{"username": "onebox", "password": "second"}')
    assert box.run().returncode == 0
    assert box.file(contract.PGPASS_FILE).read_text().endswith(":onebox:second\n")
    assert box.reloads().count(WEB_RELOAD) == reloads + 1


def test_without_a_database_parameter_there_is_no_password_file(box: Box) -> None:
    box.put_token(token())
    result = box.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert not box.file(contract.PGPASS_FILE).exists()


def test_a_database_secret_without_a_password_fails_naming_the_secret_not_its_value(
    box: Box,
) -> None:
    box.put_token(token())
    arn = put_database_secret(box, '{"username": "onebox", "token": "leakme"}')
    result = box.run()
    assert result.returncode != 0
    assert arn in result.stdout + result.stderr
    assert "leakme" not in result.stdout + result.stderr
    assert not box.file(contract.PGPASS_FILE).exists()
