"""Every error leaves as JSON: {"error": <code>, "message": <what was wrong>}.

Client mistakes are 4xx naming the problem; a full disk is 507 and an unwritable or locked
database is 503, with reads still served; anything unexpected is a logged 500 with a stack trace.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from flask import Flask, Response, current_app, g, jsonify
from werkzeug.exceptions import HTTPException

from service.logs import log_exception
from service.store import StoreFull, StoreUnavailable


class ApiError(Exception):
    """A request we refuse, with its status, a stable code and a human message."""

    def __init__(
        self, status: int, error: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = dict(headers or {})  # e.g. a 401's WWW-Authenticate


def error_response(status: int, error: str, message: str) -> Response:
    response = jsonify(error=error, message=message)
    response.status_code = status
    return response


def _code(exc: HTTPException) -> str:
    return re.sub(r"[^a-z0-9]+", "_", (exc.name or "error").lower()).strip("_")


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        response = error_response(exc.status, exc.error, exc.message)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = exc.description or exc.name
        if status == 413:  # werkzeug's text does not say what the limit is
            limit = current_app.config.get("MAX_CONTENT_LENGTH")
            message = f"the request body is too large: at most {limit} bytes are accepted"
        response = error_response(status, _code(exc), message)
        for name, value in exc.get_headers():
            if name.lower() in {"allow", "www-authenticate", "retry-after"}:
                response.headers[name] = value
        return response

    @app.errorhandler(StoreFull)
    def store_full(exc: StoreFull) -> Response:
        return error_response(507, "insufficient_storage", f"the write was not stored: {exc}")

    @app.errorhandler(StoreUnavailable)
    def store_unavailable(exc: StoreUnavailable) -> Response:
        response = error_response(
            503, "database_unavailable", f"the database cannot take this request now: {exc}"
        )
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log_exception(exc, requestId=g.get("request_id"))
        return error_response(500, "internal_error", "unexpected error; see the service log")
