"""Graceful shutdown under gunicorn, with its events logged as JSON (docs/api.md).

master  SIGTERM -> shutdown_initiated; it tells each worker to stop
worker  SIGTERM -> readiness answers 503 at once; in-flight requests finish (graceful_timeout)
worker  exit    -> server_closed, then database_closed (then queued trace spans are sent)
master  exit    -> shutdown_complete
gunicorn.conf.py wires these functions to gunicorn's hooks; they are plain functions here so
they can be tested without gunicorn.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

from flask import Flask

from service.logs import log_event
from service.web import budget, runtime

SIGNAL_NAMES = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "SIGINT", signal.SIGQUIT: "SIGQUIT"}


def begin(app: Flask) -> None:
    """Stop reporting ready: from now on /api/health/ready answers 503."""
    runtime.of(app).shutting_down.set()


def close(app: Flask) -> None:
    """After the last request: write the request metrics, the users seen and the day's counts
    not yet stored, close the store, say so."""
    pid = os.getpid()
    log_event("server_closed", message="HTTP server closed", pid=pid)
    rt = runtime.of(app)
    rt.metrics.close()
    rt.activity.close()
    budget.of(app).close()
    rt.store.close()
    log_event("database_closed", message="Database connection closed", pid=pid)
    if runtime.TRACING in app.extensions:  # tracing on: send the spans still queued
        from service.web import tracing

        tracing.shutdown(app)


def wrap_master_signal(name: str, handler: Callable[[], Any]) -> Callable[[], Any]:
    """A master signal handler that logs shutdown_initiated before gunicorn's own."""

    def handle() -> Any:
        log_event("shutdown_initiated", signal=name, pid=os.getpid())
        return handler()

    return handle


def install_worker_handler(app: Flask, previous: Callable[[int, Any], Any]) -> None:
    """Make SIGTERM in a worker turn readiness off before gunicorn's handler runs."""

    def handle(signum: int, frame: Any) -> None:
        begin(app)
        previous(signum, frame)

    signal.signal(signal.SIGTERM, handle)
