"""Bad input gets a clear 4xx with a JSON body naming the problem, and never changes stored data."""

from __future__ import annotations

import io
import json
from typing import IO

import pytest
from flask.testing import FlaskClient
from gunicorn.http.errors import InvalidChunkSize
from werkzeug.test import TestResponse

from service.web.body import nesting_exceeds

JSON = "application/json"
MUTE = "/api/users/alice/mute"
DEVICE = "/api/users/alice/device"
STATE = "/api/users/alice/state"
EACH_STORE = True  # tests/service/conftest.py: every test runs on SQLite and on PostgreSQL


def bad(
    name: str,
    method: str,
    path: str,
    body: str | None,
    error: str,
    named: str,
    status: int = 400,
    ctype: str = JSON,
) -> object:
    """One case: the request (a body is sent as `ctype`), then the status, the error code and a
    word the message must name."""
    return pytest.param(
        method, path, body, ctype if body is not None else None, status, error, named, id=name
    )


FORM, UNSUPPORTED = "application/x-www-form-urlencoded", "unsupported_media_type"
INVALID, BAD_USER, NOT_ALLOWED = "invalid_field", "invalid_user_id", "method_not_allowed"
LONG_LABEL = json.dumps({"deviceId": "d", "deviceLabel": "L" * 257})
HUGE_BODY = json.dumps({"deviceLabel": "x" * 5000})
NUMBER_ID = '{"deviceId": 5, "deviceLabel": "L"}'
BLANK_ID = '{"deviceId": " ", "deviceLabel": "L"}'
HALF_VALID = '{"isMuted": true, "deviceId": 3}'
SURROGATE = '{"deviceId": "\\ud800", "deviceLabel": "L"}'
MUTED = '{"isMuted": true}'
DEEP = "[" * 2000 + "]" * 2000
DEEP_IN_A_FIELD = '{"isMuted": ' + "[" * 40 + "]" * 40 + "}"
LONG_USER, SPACED_USER = f"/api/users/{'a' * 65}/mute", "/api/users/al%20ice/mute"
CASES = [
    bad("mute as a string", "PATCH", MUTE, '{"isMuted": "yes"}', INVALID, "isMuted"),
    bad("mute as a number", "PATCH", MUTE, '{"isMuted": 1}', INVALID, "boolean"),
    bad("mute as null", "PATCH", MUTE, '{"isMuted": null}', INVALID, "isMuted"),
    bad("unknown field", "PATCH", MUTE, '{"isMuted": true, "x": 1}', "unknown_fields", "x"),
    bad("device field on mute", "PATCH", MUTE, '{"deviceId": "d"}', "unknown_fields", "deviceId"),
    bad("missing field", "PATCH", DEVICE, '{"deviceId": "d"}', "missing_fields", "deviceLabel"),
    bad("device id a number", "PATCH", DEVICE, NUMBER_ID, INVALID, "deviceId"),
    bad("empty device id", "PATCH", DEVICE, BLANK_ID, INVALID, "deviceId"),
    bad("label too long", "PATCH", DEVICE, LONG_LABEL, INVALID, "deviceLabel"),
    bad("NUL in a label", "POST", STATE, '{"deviceLabel": "a\\u0000b"}', INVALID, "NUL"),
    bad("empty object", "POST", STATE, "{}", "missing_fields", "isMuted"),
    bad("half-valid state", "POST", STATE, HALF_VALID, INVALID, "deviceId"),
    bad("array body", "POST", STATE, "[true]", "invalid_body", "object"),
    bad("null body", "POST", STATE, "null", "invalid_body", "object"),
    bad("lone surrogate", "PATCH", DEVICE, SURROGATE, INVALID, "Unicode"),
    bad("JSON nested 2000 deep", "POST", STATE, DEEP, "json_too_deep", "32 levels"),
    bad("a field nested 40 deep", "PATCH", MUTE, DEEP_IN_A_FIELD, "json_too_deep", "nested"),
    bad("not JSON", "PATCH", MUTE, "{isMuted: true", "invalid_json", "JSON"),
    bad("no body", "PATCH", MUTE, "", "missing_body", "body"),
    bad("form content type", "PATCH", MUTE, "isMuted=true", UNSUPPORTED, JSON, 415, FORM),
    bad("oversized body", "POST", STATE, HUGE_BODY, "request_entity_too_large", "large", 413),
    bad("userId with a space", "PATCH", SPACED_USER, MUTED, BAD_USER, "userId"),
    bad("userId too long", "PATCH", LONG_USER, MUTED, BAD_USER, "64"),
    bad("userId starting with a dot", "GET", "/api/users/.hidden/state", None, BAD_USER, "userId"),
    bad("unknown route", "GET", "/api/nothing", None, "not_found", "URL", 404),
    bad("wrong method", "DELETE", MUTE, None, NOT_ALLOWED, "method", 405),
    bad("GET on a write route", "GET", MUTE, None, NOT_ALLOWED, "method", 405),
]


@pytest.fixture
def stored(client: FlaskClient) -> FlaskClient:
    client.post(STATE, json={"isMuted": False, "deviceId": "orig", "deviceLabel": "Original"})
    return client


@pytest.mark.parametrize(
    ("method", "path", "body", "ctype", "status", "error", "named"),
    CASES,
)
def test_bad_input_is_a_json_4xx_that_names_the_problem_and_writes_nothing(
    stored: FlaskClient,
    method: str,
    path: str,
    body: str | None,
    ctype: str | None,
    status: int,
    error: str,
    named: str,
) -> None:
    before = stored.get(STATE).get_json()
    headers = {"Content-Type": ctype} if ctype else {}
    response = stored.open(path, method=method, data=body, headers=headers)
    assert response.status_code == status
    assert response.mimetype == JSON
    payload = response.get_json()
    assert set(payload) == {"error", "message"}
    assert payload["error"] == error
    assert named.lower() in payload["message"].lower()
    assert stored.get(STATE).get_json() == before


def test_wrong_method_says_which_methods_are_allowed(client: FlaskClient) -> None:
    response = client.delete(MUTE)
    assert "PATCH" in response.headers["Allow"]


def test_brackets_inside_strings_do_not_count_as_nesting(client: FlaskClient) -> None:
    label = "[{" * 100
    response = client.patch(DEVICE, json={"deviceId": "d", "deviceLabel": label})
    assert response.status_code == 200
    assert response.get_json()["deviceLabel"] == label


class _BrokenChunks(io.BytesIO):
    """What gunicorn hands the app for a malformed chunked body: a stream whose read raises."""

    def read(self, size: int | None = -1) -> bytes:
        raise InvalidChunkSize(b"zz")


def chunked(client: FlaskClient, stream: IO[bytes]) -> TestResponse:
    """POST `stream` as a chunked body, as a WSGI server that de-chunks would pass it."""
    return client.post(
        STATE,
        input_stream=stream,
        headers={"Content-Type": JSON, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_a_chunked_body_within_the_limit_is_read_whole(stored: FlaskClient) -> None:
    body = b'{"deviceLabel": "chunked"' + b" " * 4000 + b"}"  # 4026 of the 4096 bytes allowed
    response = chunked(stored, io.BytesIO(body))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["deviceLabel"] == "chunked"


def test_an_oversized_chunked_body_is_a_413_naming_the_limit_not_a_cut_body(
    stored: FlaskClient,
) -> None:
    before = stored.get(STATE).get_json()
    response = chunked(stored, io.BytesIO(HUGE_BODY.encode()))
    assert response.status_code == 413
    assert response.get_json()["error"] == "request_entity_too_large"
    assert "4096 bytes" in response.get_json()["message"]
    assert stored.get(STATE).get_json() == before


def test_a_malformed_chunked_body_is_a_400_not_a_500(stored: FlaskClient) -> None:
    before = stored.get(STATE).get_json()
    response = chunked(stored, _BrokenChunks())
    assert response.status_code == 400
    assert response.get_json()["error"] == "malformed_body"
    assert "chunk" in response.get_json()["message"]
    assert stored.get(STATE).get_json() == before


@pytest.mark.parametrize(
    ("text", "too_deep"),
    [
        (b"[" * 32 + b"]" * 32, False),
        (b"[" * 33 + b"]" * 33, True),
        (b'{"a": "' + b"[" * 100 + b'"}', False),  # brackets in a string
        (b'{"a": "\\"' + b"{" * 40 + b'"}', False),  # after an escaped quote, still a string
        (b'[1, [2, {"b": [3]}]]' * 20, False),  # many brackets, none deep
    ],
)
def test_nesting_is_measured_outside_strings(text: bytes, too_deep: bool) -> None:
    assert nesting_exceeds(text) is too_deep
