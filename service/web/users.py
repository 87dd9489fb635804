"""Per-user state: mute and audio device (the two user stories of docs/api.md).

PATCH /api/users/<userId>/mute    {"isMuted": bool}
PATCH /api/users/<userId>/device  {"deviceId": str, "deviceLabel": str}
POST  /api/users/<userId>/state   any non-empty subset of those fields
GET   /api/users/<userId>/state
Every write answers with the whole stored state. A body is checked in full before anything is
written, so bad input never leaves a partial write behind.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import BadRequest

from service.store import WRITABLE_FIELDS
from service.web import auth, runtime
from service.web.body import MAX_JSON_DEPTH, nesting_exceeds
from service.web.errors import ApiError

USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MAX_STRING = 256
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})

bp = Blueprint("users", __name__, url_prefix="/api/users")
# Reads too: a user's state is private. (Runs after the userId check: a 400 there tells
# nothing about any user.)
bp.before_request(auth.require_token)


@bp.url_value_preprocessor
def _check_user_id(endpoint: str | None, values: dict[str, Any] | None) -> None:
    user_id = (values or {}).get("userId", "")
    if not USER_ID.fullmatch(user_id):
        raise ApiError(
            400,
            "invalid_user_id",
            "userId must be 1-64 characters of letters, digits and . _ @ -,"
            " starting with a letter or digit",
        )


def _body(required: Collection[str], allowed: Collection[str]) -> dict[str, Any]:
    """The JSON object in the request, checked against the fields a route takes."""
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    raw = request.get_data(cache=True)
    if not raw:
        raise ApiError(400, "missing_body", "the request needs a JSON object body")
    if nesting_exceeds(raw):
        message = f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels"
        raise ApiError(400, "json_too_deep", message)
    try:
        data = request.get_json()
    except BadRequest:
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_body", "the body must be a JSON object")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ApiError(400, "unknown_fields", f"unknown field(s): {', '.join(unknown)}")
    missing = [name for name in required if name not in data]
    if missing:
        raise ApiError(400, "missing_fields", f"missing field(s): {', '.join(missing)}")
    if not data:
        raise ApiError(400, "missing_fields", f"give at least one of: {', '.join(allowed)}")
    for name, value in data.items():
        _check_field(name, value)
    return data


def _check_field(name: str, value: object) -> None:
    expected = WRITABLE_FIELDS[name]
    if type(value) is not expected:  # bool is an int subclass; 1 is not a boolean here
        kind = "a boolean" if expected is bool else "a string"
        raise ApiError(400, "invalid_field", f"{name} must be {kind}")
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise ApiError(400, "invalid_field", f"{name} is longer than {MAX_STRING} characters")
        if name == "deviceId" and not value.strip():
            raise ApiError(400, "invalid_field", "deviceId must not be empty")
        if "\x00" in value:
            raise ApiError(400, "invalid_field", f"{name} must not contain NUL characters")
        try:
            value.encode("utf-8")  # a lone surrogate ("\ud800") is valid JSON but not text
        except UnicodeEncodeError:
            raise ApiError(400, "invalid_field", f"{name} must be valid Unicode text") from None


def _write(user_id: str, changes: dict[str, Any]) -> Response:
    state = runtime.current().store.update_state(user_id, changes)  # updatedAt: at commit
    return jsonify(state.to_json())


@bp.patch("/<userId>/mute")
def mute(userId: str) -> Response:
    return _write(userId, _body(required=["isMuted"], allowed=["isMuted"]))


@bp.patch("/<userId>/device")
def device(userId: str) -> Response:
    fields = ["deviceId", "deviceLabel"]
    return _write(userId, _body(required=fields, allowed=fields))


@bp.post("/<userId>/state")
def update_state(userId: str) -> Response:
    return _write(userId, _body(required=[], allowed=list(WRITABLE_FIELDS)))


@bp.get("/<userId>/state")
def get_state(userId: str) -> Response:
    state = runtime.current().store.get_state(userId)
    if state is None:
        raise ApiError(404, "user_not_found", f"no state stored for user {userId!r}")
    return jsonify(state.to_json())
