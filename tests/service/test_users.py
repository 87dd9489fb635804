"""User state through the Flask test client: the two user stories and the unified state."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from service.web import create_app, shutdown

EACH_STORE = True  # tests/service/conftest.py: every test runs on SQLite and on PostgreSQL


def patch(client: FlaskClient, path: str, body: object, **headers: str) -> tuple[int, dict]:
    response = client.patch(path, json=body, headers=headers)
    return response.status_code, response.get_json()


def test_muting_a_new_user_creates_their_whole_state(client: FlaskClient) -> None:
    status, body = patch(client, "/api/users/user-123/mute", {"isMuted": True})
    assert status == 200
    assert body["userId"] == "user-123"
    assert body["isMuted"] is True
    assert body["deviceId"] is None and body["deviceLabel"] is None
    assert body["updatedAt"].endswith("Z")


def test_switching_device_keeps_the_mute_state(client: FlaskClient) -> None:
    patch(client, "/api/users/u1/mute", {"isMuted": True})
    status, body = patch(client, "/api/users/u1/device", {"deviceId": "d-9", "deviceLabel": "USB"})
    assert status == 200
    assert body == {**body, "isMuted": True, "deviceId": "d-9", "deviceLabel": "USB"}


def test_post_state_accepts_any_subset_and_get_returns_what_is_stored(client: FlaskClient) -> None:
    created = client.post("/api/users/u2/state", json={"deviceLabel": "Headset"}).get_json()
    assert created["isMuted"] is False and created["deviceLabel"] == "Headset"
    updated = client.post("/api/users/u2/state", json={"isMuted": True, "deviceId": "x"})
    assert updated.status_code == 200
    stored = client.get("/api/users/u2/state").get_json()
    assert stored == updated.get_json()
    assert stored["deviceLabel"] == "Headset"  # untouched fields keep their value


def test_updated_at_moves_forward_with_each_write(client: FlaskClient) -> None:
    first = patch(client, "/api/users/u3/mute", {"isMuted": True})[1]["updatedAt"]
    second = patch(client, "/api/users/u3/mute", {"isMuted": False})[1]["updatedAt"]
    assert second >= first


def test_an_unknown_user_is_a_json_404(client: FlaskClient) -> None:
    response = client.get("/api/users/nobody/state")
    assert response.status_code == 404
    assert response.get_json()["error"] == "user_not_found"


def test_state_survives_a_new_app_on_the_same_database(app: Flask) -> None:
    app.test_client().patch("/api/users/keep/mute", json={"isMuted": True})
    same = {key: app.config[key] for key in ("DATABASE", "DATABASE_URL")}
    again = create_app({**same, "ENV": "test"})
    assert again.test_client().get("/api/users/keep/state").get_json()["isMuted"] is True
    shutdown.close(again)


def test_writes_need_the_bearer_token_when_one_is_configured(app: Flask) -> None:
    app.config["API_TOKEN"] = "s3cret"
    client = app.test_client()
    good = {"Authorization": "Bearer s3cret"}
    assert patch(client, "/api/users/t/mute", {"isMuted": True})[0] == 401
    wrong = patch(client, "/api/users/t/mute", {"isMuted": True}, Authorization="Bearer nope")
    assert wrong == (401, {"error": "invalid_token", "message": wrong[1]["message"]})
    assert client.get("/api/users/t/state", headers=good).status_code == 404  # nothing written
    ok = patch(client, "/api/users/t/mute", {"isMuted": True}, **good)
    assert ok[0] == 200
    assert client.get("/api/users/t/state", headers=good).status_code == 200
    assert client.get("/api/users/t/state").status_code == 401  # reads need it too


def test_cors_answers_only_configured_origins(app: Flask) -> None:
    app.config["CORS_ORIGINS"] = ("https://app.example",)
    client = app.test_client()
    allowed = client.get("/api/health/live", headers={"Origin": "https://app.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example"
    other = client.get("/api/health/live", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_cors_preflight_lists_methods_and_headers(app: Flask) -> None:
    app.config["CORS_ORIGINS"] = ("*",)
    response = app.test_client().options(
        "/api/users/a/mute",
        headers={"Origin": "https://x.example", "Access-Control-Request-Method": "PATCH"},
    )
    assert response.status_code == 200
    assert "PATCH" in response.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]


def test_no_cors_headers_when_no_origin_is_configured(client: FlaskClient) -> None:
    response = client.get("/api/health/live", headers={"Origin": "https://app.example"})
    assert "Access-Control-Allow-Origin" not in response.headers
