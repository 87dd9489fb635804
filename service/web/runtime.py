"""What one running app holds: its config, store, metrics, activity tracker and shutdown flag.

`create_app` builds one `Runtime` and keeps it in `app.extensions["onebox"]`; views reach it
through `current()`. gunicorn's hooks reach it through the worker's app (see shutdown.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from service.store import UserStateStore
from service.web.activity import ActivityTracker
from service.web.metrics import Metrics

TRACING = "onebox.tracing"  # app.extensions key of the tracer provider, when tracing is on


@dataclass
class Runtime:
    config: dict[str, Any]
    store: UserStateStore
    metrics: Metrics
    activity: ActivityTracker
    started_at: float
    shutting_down: threading.Event = field(default_factory=threading.Event)


def current() -> Runtime:
    return of(current_app)


def of(app: Flask) -> Runtime:
    runtime: Runtime = app.extensions["onebox"]
    return runtime
