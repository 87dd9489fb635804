"""Around every request: its id, its timing, its metrics, its user's activity and its log line.

`X-Request-ID` is honoured when it is a sane token and generated otherwise, and is echoed back;
the trace id of a W3C `traceparent` is logged when present. With tracing on, the trace id logged
is the request span's (tracing.py puts it in the environ as SPAN_TRACE_ID): the caller's when
the span continues its trace, a new one otherwise, so every line leads to its trace.

This runs on every request on a box with a tenth of a CPU, so it is one WSGI wrapper (`stamp`:
the start time and the id, in the environ, before Flask does anything) and one after_request
hook (`_finish`: the rest), both reading the WSGI environ and the request object directly (each
`flask.request.x` is a context-variable lookup); the hook is handed the app's runtime instead
of looking it up. `python -m bench.cpu_profile` measures what it costs.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Request, Response, request

from service.logs import log_request
from service.web import runtime
from service.web.metrics import UNMATCHED_ROUTE
from service.web.runtime import Runtime

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
CRITICAL_PREFIX = "/api/users/"
NO_TRACE = "0" * 32
SPAN_TRACE_ID = "onebox.trace_id"  # environ key: the trace id of the request's span
STARTED = "onebox.started"  # environ key: perf_counter() when the request reached the app
REQUEST_ID_KEY = "onebox.request_id"  # environ key: the request's id (echoed and logged)
NOT_ACTIVITY = frozenset({"OPTIONS", "HEAD"})
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
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


def stamp(wsgi_app: WsgiApp) -> WsgiApp:
    """Wrap a WSGI app so each request carries its start time and id in its environ."""

    def stamped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ[STARTED] = time.perf_counter()
        incoming = environ.get("HTTP_X_REQUEST_ID")
        sane = incoming is not None and REQUEST_ID.fullmatch(incoming)
        environ[REQUEST_ID_KEY] = incoming if sane else new_request_id()
        return wsgi_app(environ, start_response)

    return stamped


def request_id() -> str | None:
    """The id of the request being served (None outside a request the app has stamped)."""
    stamped: str | None = request.environ.get(REQUEST_ID_KEY)
    return stamped


def _trace_id(environ: dict[str, Any]) -> str | None:
    traced: str | None = environ.get(SPAN_TRACE_ID)
    if traced is not None:  # tracing is on: the span is the one source
        return traced
    traceparent = environ.get("HTTP_TRACEPARENT")
    return trace_id(traceparent) if traceparent else None


def _finish(rt: Runtime, response: Response) -> Response:
    req: Request = request._get_current_object()  # type: ignore[attr-defined]  # one lookup
    environ = req.environ
    seconds = time.perf_counter() - environ[STARTED]
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
    response.headers["X-Request-ID"] = environ[REQUEST_ID_KEY]
    fields = _fields(req, route, status, seconds, user_id, rt.config)
    fields["responseBytes"] = 0 if method == "HEAD" else response.content_length
    log_request(fields)
    return response


def _fields(
    req: Request,
    route: str,
    status: int,
    seconds: float,
    user_id: str | None,
    config: dict[str, Any],
) -> dict[str, Any]:
    """The request's log line: the documented request fields, plus its route and trace id."""
    duration_ms = round(seconds * 1000)
    fields = {
        "requestId": req.environ[REQUEST_ID_KEY],
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
    traced = _trace_id(req.environ)
    if traced:
        fields["traceId"] = traced
    return fields


def init_app(app: Flask) -> None:
    # Outside Flask (and outside tracing's middleware, wrapped already): even a request refused
    # while it is routed or checked has an id and a timing.
    app.wsgi_app = stamp(app.wsgi_app)  # type: ignore[method-assign,assignment]
    # The app's runtime, bound once: `runtime.current()` is a context lookup per request.
    app.after_request(functools.partial(_finish, runtime.of(app)))
