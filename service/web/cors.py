"""CORS for the origins in APP_CORS_ORIGINS ('*' for any); no headers at all when it is empty."""

from __future__ import annotations

import functools
from typing import Any

from flask import Flask, Response, request

ALLOWED_HEADERS = "Content-Type, Authorization, X-Request-ID, traceparent"
ALLOWED_METHODS = "GET, POST, PATCH, OPTIONS"


def _add_headers(config: dict[str, Any], response: Response) -> Response:
    origins: tuple[str, ...] = config["CORS_ORIGINS"]
    if not origins:  # the default: no CORS, and nothing to look up per request
        return response
    origin = request.environ.get("HTTP_ORIGIN")
    if origin is None:
        return response
    if "*" in origins:
        response.headers["Access-Control-Allow-Origin"] = "*"
    elif origin in origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.vary.add("Origin")
    else:
        return response
    response.headers["Access-Control-Expose-Headers"] = "X-Request-ID"
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
    return response


def init_app(app: Flask) -> None:
    # The app's config itself (read per request, so a change to it still counts), bound once.
    app.after_request(functools.partial(_add_headers, app.config))
