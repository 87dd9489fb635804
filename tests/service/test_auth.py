"""The API token: which routes need it, where it comes from, and that it never reaches a log."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from service.config import ConfigError
from service.web import create_app
from tests.service.conftest import UNIT, Service, launch
from tests.support import ROOT, free_port, unit_command, unit_environment

TOKEN = "a-long-enough-test-token-0123456789"
GOOD = {"Authorization": f"Bearer {TOKEN}"}
# (method, path, JSON body) of every route behind the token: reads of a user's state too.
GUARDED = [
    ("PATCH", "/api/users/u1/mute", {"isMuted": True}),
    ("PATCH", "/api/users/u1/device", {"deviceId": "d", "deviceLabel": "Desk"}),
    ("POST", "/api/users/u1/state", {"isMuted": False}),
    ("GET", "/api/users/u1/state", None),
    ("HEAD", "/api/users/u1/state", None),
    ("GET", "/api/metrics", None),
]
OPEN = ["/api/health", "/api/health/live", "/api/health/ready", "/metrics"]
WRONG = [
    ({}, "unauthorized"),
    ({"Authorization": TOKEN}, "unauthorized"),
    ({"Authorization": f"Basic {TOKEN}"}, "unauthorized"),
    ({"Authorization": "Bearer "}, "invalid_token"),
    ({"Authorization": f"Bearer {TOKEN}x"}, "invalid_token"),
    ({"Authorization": f"Bearer {TOKEN[:-1]}"}, "invalid_token"),
]


@pytest.fixture
def guarded(app: Flask) -> FlaskClient:
    app.config["API_TOKEN"] = TOKEN
    return app.test_client()


def _send(client: FlaskClient, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    return client.open(path, method=method, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body"), GUARDED)
@pytest.mark.parametrize(("headers", "error"), WRONG)
def test_every_user_route_and_the_summary_refuse_a_missing_or_wrong_token_with_a_json_401(
    guarded: FlaskClient, method: str, path: str, body: Any, headers: dict[str, str], error: str
) -> None:
    response = _send(guarded, method, path, body, headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if method != "HEAD":
        assert response.get_json()["error"] == error
        assert TOKEN not in response.get_data(as_text=True)


@pytest.mark.parametrize(("method", "path", "body"), GUARDED)
def test_the_right_token_opens_every_guarded_route(
    guarded: FlaskClient, method: str, path: str, body: Any
) -> None:
    _send(guarded, "PATCH", "/api/users/u1/mute", {"isMuted": True}, GOOD)
    assert _send(guarded, method, path, body, GOOD).status_code == 200


@pytest.mark.parametrize("path", OPEN)
def test_health_probes_and_the_prometheus_text_need_no_token(
    guarded: FlaskClient, path: str
) -> None:
    assert guarded.get(path).status_code == 200


def test_a_cors_preflight_needs_no_token(guarded: FlaskClient, app: Flask) -> None:
    app.config["CORS_ORIGINS"] = ("*",)
    response = guarded.options(
        "/api/users/u1/state",
        headers={"Origin": "https://x.example", "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 200


def test_without_a_token_the_api_is_open_as_before(client: FlaskClient) -> None:
    assert client.patch("/api/users/u2/mute", json={"isMuted": True}).status_code == 200
    assert client.get("/api/users/u2/state").status_code == 200


def _app(tmp_path: Path, **settings: Any) -> Flask:
    return create_app({"DATABASE": str(tmp_path / "t.db"), "ENV": "test", **settings})


def test_the_token_file_is_read_stripped_and_wins_over_the_variable(tmp_path: Path) -> None:
    path = tmp_path / "api-token"
    path.write_text(f"  {TOKEN}\n")
    app = _app(tmp_path, API_TOKEN_FILE=str(path), API_TOKEN="other")
    assert app.config["API_TOKEN"] == TOKEN
    client = app.test_client()
    assert client.get("/api/metrics", headers=GOOD).status_code == 200
    assert client.get("/api/metrics", headers={"Authorization": "Bearer other"}).status_code == 401


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "cannot read"), ("", "empty"), (" \n", "empty"), ("two words", "spaces")],
)
def test_a_token_file_that_gives_no_token_stops_the_start_naming_the_file(
    tmp_path: Path, content: str | None, problem: str
) -> None:
    path = tmp_path / "api-token"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=problem) as raised:
        _app(tmp_path, API_TOKEN_FILE=str(path))
    assert f"APP_API_TOKEN_FILE={str(path)!r}" in str(raised.value)


def test_gunicorn_does_not_start_without_its_token_file(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-token"
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("APP_")},
        **unit_environment(UNIT),
        "APP_API_TOKEN_FILE": str(missing),
        "APP_DATABASE": str(tmp_path / "onebox.db"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    command = [*unit_command(UNIT), "--bind", f"127.0.0.1:{free_port()}"]
    result = subprocess.run(
        command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=90, check=False
    )
    assert result.returncode != 0
    assert f"APP_API_TOKEN_FILE={str(missing)!r}: cannot read the token" in result.stderr


def test_no_log_line_ever_holds_the_token(tmp_path: Path) -> None:
    path = tmp_path / "api-token"
    path.write_text(TOKEN)
    service: Service = launch(tmp_path, APP_API_TOKEN_FILE=str(path))
    try:
        for method, route, body in GUARDED:
            for headers, _ in [*WRONG, (GOOD, "")]:
                requests.request(
                    method, f"{service.url}{route}", json=body, headers=headers, timeout=5
                )
        assert requests.get(f"{service.url}/api/metrics", headers=GOOD, timeout=5).ok
    finally:
        service.stop()
    lines = service.stdout.read_text().splitlines() + service.stderr.read_text().splitlines()
    assert any('"statusCode": 401' in line for line in lines)
    for line in lines:
        assert TOKEN not in line and TOKEN[:-1] not in line
