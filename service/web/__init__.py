"""The web service: per-user state behind a small, observable Flask app (gunicorn runs it).

`create_app` is the composition root: defaults -> APP_* environment -> test overrides.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from the APP_* environment, then `overrides` (used by tests)."""
    # Imported here, not at the top: the gunicorn master imports this package's shutdown hooks
    # and needs no Flask of its own.
    from flask import Flask

    from service import config, logs
    from service.store import UserStateStore
    from service.stores import open_store
    from service.web import (
        auth,
        body,
        budget,
        cors,
        errors,
        health,
        metrics,
        metrics_views,
        observe,
        users,
    )
    from service.web.activity import ActivityTracker
    from service.web.runtime import Runtime

    settings = config.from_environ(os.environ)
    settings.update(overrides or {})
    settings["API_TOKEN"] = auth.token(settings)  # before anything starts: a bad file stops here
    app = Flask(__name__, static_folder=None)  # an API: no /static route to document
    app.config.update(settings)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the documented field order
    logs.configure(version=settings["VERSION"], environment=settings["ENV"])

    raw_store = open_store(settings)  # APP_DATABASE_URL: PostgreSQL; else SQLite
    store: UserStateStore = raw_store
    if settings["OTEL_ENDPOINT"]:
        # Only now: with tracing off, no process imports OpenTelemetry (tests pass an exporter).
        from service.web import tracing

        tracing.init_app(app, exporter=settings.get("OTEL_EXPORTER"))
        store = tracing.traced_store(app, store)
    app.extensions["onebox"] = Runtime(
        config=app.config,  # one dict: views and hooks read what tests or the env set
        store=store,
        metrics=metrics.Metrics(slo_p95_seconds=settings["SLO_P95_MS"] / 1000),
        activity=ActivityTracker(store),
        started_at=float(os.environ.get("ONEBOX_STARTED_AT", time.time())),
    )

    budget.init_app(app, raw_store)  # the raw store: its daily totals are not traced
    errors.init_app(app)
    observe.init_app(app)
    body.init_app(app)
    cors.init_app(app)
    app.register_blueprint(users.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics_views.bp)
    return app
