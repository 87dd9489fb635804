"""Every error leaves as JSON: {"error": <code>, "message": <what was wrong>}.

Client mistakes are 4xx naming the problem; a full disk is 507 and an unwritable or locked
database is 503, with reads still served; anything unexpected is a logged 500 with a stack trace,
also reported to Sentry when `APP_SENTRY_DSN_FILE` names a DSN file (service.web.sentry).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from flask import Flask, Response, current_app, jsonify
from werkzeug.exceptions import HTTPException

from service.logs import log_exception
from service.store import StoreFull, StoreUnavailable
from service.values import ConfigError
from service.web import observe

SENTRY_EXTENSION = "onebox_sentry"  # app.extensions: how the 500 handler reports to Sentry


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


def sentry_dsn(settings: Mapping[str, object]) -> str | None:
    """The DSN in APP_SENTRY_DSN_FILE; None (Sentry off) when unset or no such file."""
    path = str(settings.get("SENTRY_DSN_FILE", ""))
    if not path:
        return None
    try:
        dsn = Path(path).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None  # onebox-secrets writes it only while the stack has a DSN
    except OSError as exc:
        raise ConfigError(f"APP_SENTRY_DSN_FILE={path!r}: cannot read it: {exc.strerror}") from None
    return dsn or None


def init_app(app: Flask) -> None:
    dsn = sentry_dsn(app.config)
    if dsn is not None:
        # Only now: with Sentry off, no process imports sentry_sdk (tests pass a transport).
        from service.web import sentry

        report = sentry.init_app(app, dsn, transport=app.config.get("SENTRY_TRANSPORT"))
        app.extensions[SENTRY_EXTENSION] = report

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
        log_exception(exc, requestId=observe.request_id())
        report = current_app.extensions.get(SENTRY_EXTENSION)
        if report is not None:
            report(exc)
        return error_response(500, "internal_error", "unexpected error; see the service log")
