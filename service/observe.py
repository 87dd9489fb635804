"""Around every request: its id, its timing, its metrics, its user's activity and its log line.

`X-Request-ID` is honoured when it is a sane token and generated otherwise, and is echoed back;
the trace id of a W3C `traceparent` is logged when present.
"""

from __future__ import annotations

import re
import time
import uuid

from flask import Flask, Response, g, request

from service import runtime
from service.logs import REQUEST_LOGGER, log_fields
from service.metrics import UNMATCHED_ROUTE

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
CRITICAL_PREFIX = "/api/users/"


def status_text(status: int) -> str:
    if status >= 500:
        return "server_error"
    if status >= 400:
        return "client_error"
    if status >= 300:
        return "redirect"
    return "success"


def _start(endpoint: str | None = None, values: object = None) -> None:
    """Stamp the request with its start time and id (a url_value_preprocessor: runs first)."""
    g.started = time.perf_counter()
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    match = TRACEPARENT.fullmatch(request.headers.get("traceparent", "").strip())
    g.trace_id = match.group(1) if match and match.group(1) != "0" * 32 else None


def _finish(response: Response) -> Response:
    rt = runtime.current()
    seconds = time.perf_counter() - g.get("started", time.perf_counter())
    status = response.status_code
    rule = request.url_rule
    route = rule.rule if rule is not None else UNMATCHED_ROUTE
    rt.metrics.observe(request.method, route, status, seconds)
    user_id = (request.view_args or {}).get("userId") if rule is not None else None
    if user_id is not None and status < 400:
        rt.activity.seen(user_id)
    response.headers["X-Request-ID"] = g.request_id
    duration_ms = round(seconds * 1000)
    fields = {
        "requestId": g.request_id,
        "method": request.method,
        "path": request.path,
        "route": route,
        "statusCode": status,
        "statusText": status_text(status),
        "duration": duration_ms,
        "durationSeconds": round(seconds, 3),
        "userId": user_id,
        "isError": status >= 400,
        "isSlowRequest": duration_ms >= rt.config["SLOW_REQUEST_MS"],
        "isCriticalEndpoint": route.startswith(CRITICAL_PREFIX),
    }
    if g.trace_id:
        fields["traceId"] = g.trace_id
    log_fields(REQUEST_LOGGER, fields)
    return response


def init_app(app: Flask) -> None:
    # App-level URL value preprocessors run before the blueprints' (which may refuse a userId)
    # and before every before_request, so even the earliest refusal has an id and a timing.
    app.url_value_preprocessor(_start)
    app.after_request(_finish)
