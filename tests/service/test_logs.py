"""One JSON line per request with the documented fields; request ids, trace ids and stack traces."""

from __future__ import annotations

import json
import logging
import subprocess
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import logs
from tests.support import ROOT, require_tool

REQUEST_FIELDS = {
    "timestamp", "requestId", "method", "path", "statusCode", "statusText", "duration",
    "durationSeconds", "userId", "isError", "isSlowRequest", "isCriticalEndpoint",
    "service", "version", "environment", "clientAddress", "userAgent", "responseBytes",
}  # fmt: skip
IDENTITY = {"service": "onebox", "version": "dev", "environment": "test"}


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_a_request_logs_one_json_line_with_the_request_fields(
    client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    client.patch("/api/users/user-123/mute", json={"isMuted": True})
    (entry,) = lines(capsys)
    assert set(entry) >= REQUEST_FIELDS
    assert entry["method"] == "PATCH"
    assert entry["path"] == "/api/users/user-123/mute"
    assert entry["route"] == "/api/users/<userId>/mute"
    assert entry["statusCode"] == 200 and entry["statusText"] == "success"
    assert entry["userId"] == "user-123"
    assert entry["isError"] is False and entry["isCriticalEndpoint"] is True
    assert isinstance(entry["duration"], int) and isinstance(entry["durationSeconds"], float)
    assert {name: entry[name] for name in IDENTITY} == IDENTITY
    assert entry["clientAddress"] == "127.0.0.1"  # the test client's peer
    assert entry["responseBytes"] > 0 and entry["userAgent"].startswith("Werkzeug/")


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
    assert error["version"] == "dev" and len(error["fingerprint"]) == 12
    assert error["error"] == "RuntimeError" and "Traceback" in error["stack"]
    assert request["statusCode"] == 500 and request["statusText"] == "server_error"


def test_the_documented_jq_queries_work_on_the_output(
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


def test_event_lines_and_gunicorn_s_own_lines_say_which_program_wrote_them(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.log_event("something_happened", detail=1)
    (event,) = lines(capsys)
    assert event == {
        "timestamp": event["timestamp"],
        **IDENTITY,
        "event": "something_happened",
        "detail": 1,
    }
    record = logging.LogRecord("gunicorn.error", logging.INFO, "x", 1, "Booting worker", None, None)
    other = json.loads(logs.JsonFormatter().format(record))
    assert {name: other[name] for name in IDENTITY} == IDENTITY


def request_line(app: Flask, capsys: pytest.CaptureFixture[str], **headers: str) -> dict[str, Any]:
    app.test_client().get(
        "/api/health/live", headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.9"}
    )
    (line,) = lines(capsys)
    return line


EDGE = {
    "X-Forwarded-For": "198.51.100.7, 203.0.113.5",
    "CloudFront-Viewer-Address": "192.0.2.44:51234",
}


def test_the_client_address_is_the_peer_unless_the_service_is_behind_the_edge(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    assert request_line(app, capsys, **EDGE)["clientAddress"] == "10.0.0.9"  # headers not trusted
    app.config["TRUST_PROXY"] = True
    assert request_line(app, capsys, **EDGE)["clientAddress"] == "192.0.2.44"
    ipv6 = {"CloudFront-Viewer-Address": "2001:db8::7:443"}
    assert request_line(app, capsys, **ipv6)["clientAddress"] == "2001:db8::7"
    forwarded = {"X-Forwarded-For": EDGE["X-Forwarded-For"]}
    assert request_line(app, capsys, **forwarded)["clientAddress"] == "203.0.113.5"  # last hop
    assert (
        request_line(app, capsys, **{"X-Forwarded-For": "<script>"})["clientAddress"] == "10.0.0.9"
    )


def test_the_user_agent_is_logged_cut_to_a_bound_and_the_size_is_the_body_s(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    line = request_line(app, capsys, **{"User-Agent": "x" * 5000})
    assert line["userAgent"] == "x" * 256
    body = app.test_client().get("/api/health/live").get_data()
    capsys.readouterr()
    assert request_line(app, capsys)["responseBytes"] == len(body)


def _raise_from(source: str, filename: str) -> BaseException:
    """Run `source` (which defines and calls a function that raises) as if it were `filename`."""
    try:
        exec(compile(source, filename, "exec"), {})  # noqa: S102 (our own test source)
    except Exception as exc:  # noqa: BLE001 (whatever the source raised is the point)
        return exc
    raise AssertionError("the source did not raise")


BUG = "def handler():\n    return {}['missing']\nhandler()\n"
SERVICE_FILE = str(ROOT / "service" / "web" / "users.py")


def test_the_same_bug_has_the_same_fingerprint_even_when_its_lines_move() -> None:
    first = logs.fingerprint(_raise_from(BUG, SERVICE_FILE))
    again = logs.fingerprint(_raise_from(BUG, SERVICE_FILE))
    moved = logs.fingerprint(_raise_from("\n\n\n# a comment\n" + BUG, SERVICE_FILE))
    assert first == again == moved


def test_different_bugs_have_different_fingerprints() -> None:
    bug = logs.fingerprint(_raise_from(BUG, SERVICE_FILE))
    other_type = logs.fingerprint(_raise_from(BUG.replace("{}['missing']", "1 / 0"), SERVICE_FILE))
    other_function = logs.fingerprint(_raise_from(BUG.replace("handler", "other"), SERVICE_FILE))
    other_file = logs.fingerprint(_raise_from(BUG, str(ROOT / "service" / "db.py")))
    assert len({bug, other_type, other_function, other_file}) == 4


def test_the_fingerprint_names_our_innermost_frame_not_a_library_s(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    def explode(*args: object) -> None:
        json.loads("{")  # raises inside the json package, called from this function

    app.extensions["onebox"].store.get_state = explode
    app.test_client().get("/api/users/x/state")
    app.test_client().get("/api/users/y/state")
    first, _, second, _ = lines(capsys)
    assert first["fingerprint"] == second["fingerprint"]
    try:
        explode()
    except ValueError as exc:
        assert logs.fingerprint(exc) == first["fingerprint"]
