"""CORS for the origins in APP_CORS_ORIGINS ('*' for any); no headers at all when it is empty."""

from __future__ import annotations

from flask import Flask, Response, request

from service.web import runtime

ALLOWED_HEADERS = "Content-Type, Authorization, X-Request-ID, traceparent"
ALLOWED_METHODS = "GET, POST, PATCH, OPTIONS"


def _add_headers(response: Response) -> Response:
    origins: tuple[str, ...] = runtime.current().config["CORS_ORIGINS"]
    origin = request.headers.get("Origin")
    if not origins or origin is None:
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
    app.after_request(_add_headers)
