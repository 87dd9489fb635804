"""Bad input gets a clear 4xx with a JSON body naming the problem, and never changes stored data."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

JSON = "application/json"
MUTE = "/api/users/alice/mute"
DEVICE = "/api/users/alice/device"
STATE = "/api/users/alice/state"

# (name, method, path, raw body, content type, status, error code, word the message must name)
CASES = [
    (
        "mute as a string",
        "PATCH",
        MUTE,
        '{"isMuted": "yes"}',
        JSON,
        400,
        "invalid_field",
        "isMuted",
    ),
    ("mute as a number", "PATCH", MUTE, '{"isMuted": 1}', JSON, 400, "invalid_field", "boolean"),
    ("mute as null", "PATCH", MUTE, '{"isMuted": null}', JSON, 400, "invalid_field", "isMuted"),
    ("unknown field", "PATCH", MUTE, '{"isMuted": true, "x": 1}', JSON, 400, "unknown_fields", "x"),
    (
        "device field on mute",
        "PATCH",
        MUTE,
        '{"deviceId": "d"}',
        JSON,
        400,
        "unknown_fields",
        "deviceId",
    ),
    (
        "missing field",
        "PATCH",
        DEVICE,
        '{"deviceId": "d"}',
        JSON,
        400,
        "missing_fields",
        "deviceLabel",
    ),
    (
        "device id a number",
        "PATCH",
        DEVICE,
        '{"deviceId": 5, "deviceLabel": "L"}',
        JSON,
        400,
        "invalid_field",
        "deviceId",
    ),
    (
        "empty device id",
        "PATCH",
        DEVICE,
        '{"deviceId": " ", "deviceLabel": "L"}',
        JSON,
        400,
        "invalid_field",
        "deviceId",
    ),
    (
        "label too long",
        "PATCH",
        DEVICE,
        json.dumps({"deviceId": "d", "deviceLabel": "L" * 257}),
        JSON,
        400,
        "invalid_field",
        "deviceLabel",
    ),
    (
        "NUL in a label",
        "POST",
        STATE,
        '{"deviceLabel": "a\\u0000b"}',
        JSON,
        400,
        "invalid_field",
        "NUL",
    ),
    ("empty object", "POST", STATE, "{}", JSON, 400, "missing_fields", "isMuted"),
    (
        "half-valid state",
        "POST",
        STATE,
        '{"isMuted": true, "deviceId": 3}',
        JSON,
        400,
        "invalid_field",
        "deviceId",
    ),
    ("array body", "POST", STATE, "[true]", JSON, 400, "invalid_body", "object"),
    ("null body", "POST", STATE, "null", JSON, 400, "invalid_body", "object"),
    (
        "lone surrogate",
        "PATCH",
        DEVICE,
        '{"deviceId": "\\ud800", "deviceLabel": "L"}',
        JSON,
        400,
        "invalid_field",
        "Unicode",
    ),
    ("not JSON", "PATCH", MUTE, "{isMuted: true", JSON, 400, "invalid_json", "JSON"),
    ("no body", "PATCH", MUTE, "", JSON, 400, "missing_body", "body"),
    (
        "form content type",
        "PATCH",
        MUTE,
        "isMuted=true",
        "application/x-www-form-urlencoded",
        415,
        "unsupported_media_type",
        "application/json",
    ),
    (
        "oversized body",
        "POST",
        STATE,
        json.dumps({"deviceLabel": "x" * 5000}),
        JSON,
        413,
        "request_entity_too_large",
        "large",
    ),
    (
        "userId with a space",
        "PATCH",
        "/api/users/al%20ice/mute",
        '{"isMuted": true}',
        JSON,
        400,
        "invalid_user_id",
        "userId",
    ),
    (
        "userId too long",
        "PATCH",
        f"/api/users/{'a' * 65}/mute",
        '{"isMuted": true}',
        JSON,
        400,
        "invalid_user_id",
        "64",
    ),
    (
        "userId starting with a dot",
        "GET",
        "/api/users/.hidden/state",
        None,
        None,
        400,
        "invalid_user_id",
        "userId",
    ),
    ("unknown route", "GET", "/api/nothing", None, None, 404, "not_found", "URL"),
    ("wrong method", "DELETE", MUTE, None, None, 405, "method_not_allowed", "method"),
    ("GET on a write route", "GET", MUTE, None, None, 405, "method_not_allowed", "method"),
]


@pytest.fixture
def seeded(client: FlaskClient) -> FlaskClient:
    client.post(STATE, json={"isMuted": False, "deviceId": "orig", "deviceLabel": "Original"})
    return client


@pytest.mark.parametrize(
    ("method", "path", "body", "ctype", "status", "error", "named"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_input_is_a_json_4xx_that_names_the_problem_and_writes_nothing(
    seeded: FlaskClient,
    method: str,
    path: str,
    body: str | None,
    ctype: str | None,
    status: int,
    error: str,
    named: str,
) -> None:
    before = seeded.get(STATE).get_json()
    headers = {"Content-Type": ctype} if ctype else {}
    response = seeded.open(path, method=method, data=body, headers=headers)
    assert response.status_code == status
    assert response.mimetype == JSON
    payload = response.get_json()
    assert set(payload) == {"error", "message"}
    assert payload["error"] == error
    assert named.lower() in payload["message"].lower()
    assert seeded.get(STATE).get_json() == before


def test_wrong_method_says_which_methods_are_allowed(client: FlaskClient) -> None:
    response = client.delete(MUTE)
    assert "PATCH" in response.headers["Allow"]
