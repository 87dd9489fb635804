"""The API token: where it comes from, and the bearer check on the routes that need it.

The token is read once per process, when `create_app` runs: gunicorn's workers each build the
app, so a HUP (new workers) picks up a token file that changed. A configured file that is
missing, unreadable or empty stops the start with an error naming it: never an open API
because a file was not there. The token itself is never logged nor put in an answer.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import request

from service.values import ConfigError
from service.web import runtime
from service.web.errors import ApiError

# A CORS preflight carries no Authorization header by design; it reads and writes nothing.
OPEN_METHODS = frozenset({"OPTIONS"})
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="onebox"'}


def token(settings: Mapping[str, Any]) -> str:
    """The token in force: APP_API_TOKEN_FILE's content (stripped) when it names a file,
    else APP_API_TOKEN; empty means no token (an open API, for local runs and tests)."""
    path = str(settings.get("API_TOKEN_FILE", ""))
    if not path:
        return str(settings.get("API_TOKEN", ""))
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ConfigError(f"APP_API_TOKEN_FILE={path!r}: cannot read the token: {reason}") from None
    if not text:
        raise ConfigError(f"APP_API_TOKEN_FILE={path!r}: the file is empty")
    if any(c.isspace() or not c.isprintable() for c in text):
        raise ConfigError(
            f"APP_API_TOKEN_FILE={path!r}: the token holds spaces or control characters"
        )
    return text


def require_token() -> None:
    """before_request: with a token set, refuse a request without it with a JSON 401."""
    expected: str = runtime.current().config["API_TOKEN"]
    if not expected or request.method in OPEN_METHODS:
        return
    header = request.headers.get("Authorization", "")
    if not header:
        raise ApiError(
            401, "unauthorized", "this route needs 'Authorization: Bearer <token>'", CHALLENGE
        )
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        raise ApiError(
            401, "unauthorized", "the Authorization header must be 'Bearer <token>'", CHALLENGE
        )
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise ApiError(401, "invalid_token", "the bearer token is not the API's token", CHALLENGE)
