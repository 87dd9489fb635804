"""Optional error reporting to Sentry through the official `sentry-sdk` and its Flask integration.

Imported only when `APP_SENTRY_DSN_FILE` names a file that exists: with Sentry off, no process
imports `sentry_sdk`. The DSN is read from the file, never from the environment, and never
logged. Our own `errorhandler(Exception)` answers every unexpected error (Flask then sends no
`got_request_exception`), so that handler reports the exception through `report`; the Flask
integration adds the request to the event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sentry_sdk
from flask import Flask
from sentry_sdk.integrations.flask import FlaskIntegration


def init_app(app: Flask, dsn: str, transport: Any = None) -> Callable[[BaseException], object]:
    """Start the SDK for this process and return how to report an exception; `transport`
    replaces its HTTP transport (tests)."""
    options: dict[str, Any] = {}
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(
        dsn=dsn,
        release=app.config["VERSION"],
        environment=app.config["ENV"],
        integrations=[FlaskIntegration()],
        traces_sample_rate=0,  # errors only: tracing is OpenTelemetry's (APP_OTEL_ENDPOINT)
        **options,
    )
    report: Callable[[BaseException], object] = sentry_sdk.capture_exception
    return report
