"""One JSON line per request with the documented fields; request ids, trace ids and stack traces."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support import require_tool

SEED_FIELDS = {
    "timestamp", "requestId", "method", "path", "statusCode", "statusText", "duration",
    "durationSeconds", "userId", "isError", "isSlowRequest", "isCriticalEndpoint",
}  # fmt: skip


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_a_request_logs_one_json_line_with_the_seed_fields(
    client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    client.patch("/api/users/user-123/mute", json={"isMuted": True})
    (entry,) = lines(capsys)
    assert set(entry) >= SEED_FIELDS
    assert entry["method"] == "PATCH"
    assert entry["path"] == "/api/users/user-123/mute"
    assert entry["route"] == "/api/users/<userId>/mute"
    assert entry["statusCode"] == 200 and entry["statusText"] == "success"
    assert entry["userId"] == "user-123"
    assert entry["isError"] is False and entry["isCriticalEndpoint"] is True
    assert isinstance(entry["duration"], int) and isinstance(entry["durationSeconds"], float)


def test_errors_and_slow_requests_are_flagged(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    app.config["SLOW_REQUEST_MS"] = 0  # every request is at least 0 ms: all are slow
    client = app.test_client()
    client.get("/api/users/nobody/state")
    (entry,) = lines(capsys)
    assert entry["isError"] is True and entry["statusText"] == "client_error"
    assert entry["isSlowRequest"] is True
    app.config["SLOW_REQUEST_MS"] = 10**9
    client.get("/api/health/live")
    (fast,) = lines(capsys)
    assert fast["isSlowRequest"] is False and fast["isCriticalEndpoint"] is False


def test_a_sane_request_id_is_honoured_and_echoed(
    client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    response = client.get("/api/health/live", headers={"X-Request-ID": "abc-123.x"})
    assert response.headers["X-Request-ID"] == "abc-123.x"
    assert lines(capsys)[0]["requestId"] == "abc-123.x"


@pytest.mark.parametrize("bad", ["", "has space", "x" * 129, 'inject"quote', "ünï"])
def test_an_insane_request_id_is_replaced_by_a_generated_one(client: FlaskClient, bad: str) -> None:
    response = client.get("/api/health/live", headers={"X-Request-ID": bad})
    echoed = response.headers["X-Request-ID"]
    assert echoed != bad and len(echoed) == 32


def test_refused_requests_still_get_an_id_and_a_log_line(
    client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    response = client.get("/api/users/bad%20id/state", headers={"X-Request-ID": "r-1"})
    assert response.status_code == 400 and response.headers["X-Request-ID"] == "r-1"
    assert lines(capsys)[0]["statusCode"] == 400


def test_a_traceparent_trace_id_is_logged(
    client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    client.get("/api/health/live", headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-01"})
    client.get("/api/health/live", headers={"traceparent": "garbage"})
    first, second = lines(capsys)
    assert first["traceId"] == trace
    assert "traceId" not in second


def test_an_unexpected_error_is_a_json_500_and_a_json_stack_trace(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    def explode(*args: object) -> None:
        raise RuntimeError("boom")

    app.extensions["onebox"].store.get_state = explode
    response = app.test_client().get("/api/users/x/state", headers={"X-Request-ID": "r-500"})
    assert response.status_code == 500
    assert response.get_json() == {
        "error": "internal_error",
        "message": "unexpected error; see the service log",
    }
    error, request = lines(capsys)
    assert error["event"] == "unhandled_exception" and error["requestId"] == "r-500"
    assert error["error"] == "RuntimeError" and "Traceback" in error["stack"]
    assert request["statusCode"] == 500 and request["statusText"] == "server_error"


def test_the_seed_jq_queries_work_on_the_output(
    client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    jq = require_tool("jq")
    client.patch("/api/users/user-123/mute", json={"isMuted": "no"})
    client.patch("/api/users/user-123/mute", json={"isMuted": True})
    client.get("/api/users/other/state")
    out = capsys.readouterr().out

    def query(program: str, *flags: str) -> str:
        run = subprocess.run([jq, *flags, program], input=out, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        return run.stdout

    errors = query('select(.userId == "user-123" and .isError == true) | .statusCode', "-c")
    assert errors.split() == ["400"]
    assert float(query("map(.duration) | add / length", "-s")) >= 0
