"""Around every request: its id, its timing, its metrics, its user's activity and its log line.

`X-Request-ID` is honoured when it is a sane token and generated otherwise, and is echoed back;
the trace id of a W3C `traceparent` is logged when present. With tracing on, the trace id logged
is the request span's (tracing.py puts it in the environ as SPAN_TRACE_ID): the caller's when
the span continues its trace, a new one otherwise, so every line leads to its trace.

This runs twice per request on a box with a tenth of a CPU, so it reads the WSGI environ and
the request object directly (each `flask.request.x` is a context-variable lookup), is handed the
app's runtime instead of looking it up, and measures its cost with `python -m bench.cpu_profile`.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
import time
from typing import Any

from flask import Flask, Request, Response, g, request

from service.logs import log_request
from service.web import runtime
from service.web.metrics import UNMATCHED_ROUTE
from service.web.runtime import Runtime

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
CRITICAL_PREFIX = "/api/users/"
NO_TRACE = "0" * 32
SPAN_TRACE_ID = "onebox.trace_id"  # environ key: the trace id of the request's span
NOT_ACTIVITY = frozenset({"OPTIONS", "HEAD"})
MAX_USER_AGENT = 256  # characters logged: a user agent is the client's to make as long as it likes


def status_text(status: int) -> str:
    if status >= 500:
        return "server_error"
    if status >= 400:
        return "client_error"
    if status >= 300:
        return "redirect"
    return "success"


def new_request_id() -> str:
    """32 random hex digits (what uuid4().hex gave, at a quarter of its cost)."""
    return os.urandom(16).hex()


def trace_id(traceparent: str) -> str | None:
    """The trace id of a W3C traceparent header, None when it is malformed or all zeros."""
    match = TRACEPARENT.fullmatch(traceparent.strip())
    return match.group(1) if match and match.group(1) != NO_TRACE else None


def client_address(environ: dict[str, Any], trust_proxy: bool) -> str | None:
    """Who sent the request: behind the edge (`trust_proxy`), the address CloudFront saw
    (CloudFront-Viewer-Address, "ip:port"), else the last X-Forwarded-For hop, which the front
    proxy appended; otherwise, or when neither is an IP address, the connection's peer.

    The headers are trusted only behind the edge: anyone can send them to an open port.
    """
    peer: str | None = environ.get("REMOTE_ADDR")
    if not trust_proxy:
        return peer
    viewer = environ.get("HTTP_CLOUDFRONT_VIEWER_ADDRESS", "")
    forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
    for candidate in (viewer.rpartition(":")[0], forwarded.rpartition(",")[2]):
        try:
            return str(ipaddress.ip_address(candidate.strip().strip("[]")))
        except ValueError:  # absent or not an address: the next source
            continue
    return peer


def _start(endpoint: str | None = None, values: object = None) -> None:
    """Stamp the request with its start time and id (a url_value_preprocessor: runs first)."""
    started = time.perf_counter()
    environ = request.environ
    stamps = g._get_current_object()
    stamps.started = started
    incoming = environ.get("HTTP_X_REQUEST_ID", "")
    stamps.request_id = incoming if REQUEST_ID.fullmatch(incoming) else new_request_id()
    traced = environ.get(SPAN_TRACE_ID)
    if traced is not None:  # tracing is on: the span is the one source
        stamps.trace_id = traced
    else:
        traceparent = environ.get("HTTP_TRACEPARENT")
        stamps.trace_id = trace_id(traceparent) if traceparent else None


def _finish(rt: Runtime, response: Response) -> Response:
    req: Request = request._get_current_object()  # type: ignore[attr-defined]  # one lookup
    stamps = g._get_current_object()
    seconds = time.perf_counter() - getattr(stamps, "started", time.perf_counter())
    status = response.status_code
    rule = req.url_rule
    route = rule.rule if rule is not None else UNMATCHED_ROUTE
    method = req.method
    rt.metrics.observe(method, route, status, seconds)
    user_id = (req.view_args or {}).get("userId") if rule is not None else None
    # A user is someone whose request the API served: not a preflight or a HEAD (no token
    # needed, nothing served), not a refusal (401) or a miss (404).
    if user_id is not None and status < 400 and method not in NOT_ACTIVITY:
        rt.activity.seen(user_id)
    response.headers["X-Request-ID"] = stamps.request_id
    fields = _fields(req, stamps, route, status, seconds, user_id, rt.config)
    fields["responseBytes"] = 0 if method == "HEAD" else response.content_length
    log_request(fields)
    return response


def _fields(
    req: Request,
    stamps: Any,
    route: str,
    status: int,
    seconds: float,
    user_id: str | None,
    config: dict[str, Any],
) -> dict[str, Any]:
    """The request's log line: the documented request fields, plus its route and trace id."""
    duration_ms = round(seconds * 1000)
    fields = {
        "requestId": stamps.request_id,
        "method": req.method,
        "path": req.path,
        "route": route,
        "statusCode": status,
        "statusText": status_text(status),
        "duration": duration_ms,
        "durationSeconds": round(seconds, 3),
        "userId": user_id,
        "isError": status >= 400,
        "isSlowRequest": duration_ms >= config["SLOW_REQUEST_MS"],
        "isCriticalEndpoint": route.startswith(CRITICAL_PREFIX),
        "clientAddress": client_address(req.environ, config["TRUST_PROXY"]),
        "userAgent": req.environ.get("HTTP_USER_AGENT", "")[:MAX_USER_AGENT] or None,
    }
    if stamps.trace_id:
        fields["traceId"] = stamps.trace_id
    return fields


def init_app(app: Flask) -> None:
    # App-level URL value preprocessors run before the blueprints' (which may refuse a userId)
    # and before every before_request, so even the earliest refusal has an id and a timing.
    app.url_value_preprocessor(_start)
    # The app's runtime, bound once: `runtime.current()` is a context lookup per request.
    app.after_request(functools.partial(_finish, runtime.of(app)))
