"""Trace spans over OTLP/HTTP, on only when APP_OTEL_ENDPOINT is set (docs/monitoring.md).

A server span per request, from OpenTelemetry's WSGI middleware: it continues the caller's
trace when the request carries a W3C `traceparent`, and is named after the route template
(`GET /api/users/<userId>/state`), never the raw path. Each store call inside it is a child
span (`store.get_state`, ...; service.store.TracedStore is the seam). The request's log line
takes its trace id from this span (observe.py reads SPAN_TRACE_ID), so logs and traces agree.

Spans leave through a BatchSpanProcessor: a bounded queue and a background thread, so a slow
or unreachable collector drops spans, never delays a request. gunicorn builds the app in each
worker after the fork, so each worker has its own processor and thread; its `worker_exit`
hook flushes them (shutdown.close calls `shutdown`).

This module is imported by create_app only when tracing is on: with it off, no process of the
box imports OpenTelemetry.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from flask import request
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from service.logs import SERVICE
from service.store import SpanFactory, TracedStore, UserStateStore
from service.web.observe import SPAN_TRACE_ID
from service.web.runtime import TRACING

if TYPE_CHECKING:
    from flask import Flask

TRACES_PATH = "/v1/traces"  # OTLP/HTTP's path for spans, appended to APP_OTEL_ENDPOINT
EXPORT_TIMEOUT_SECONDS = 3  # one export, retries included: bounds the flush at worker exit
MAX_QUEUE_SIZE = 2048  # spans waiting per worker; beyond it new spans are dropped


def provider(settings: dict[str, Any], exporter: SpanExporter | None = None) -> TracerProvider:
    """A tracer provider for this process: resource, sampler and a batching exporter.

    `exporter` replaces the OTLP one (tests pass the SDK's in-memory exporter).
    """
    resource = Resource.create(
        {
            "service.name": SERVICE,  # the name every log line carries
            "service.version": settings["VERSION"],
            "deployment.environment": settings["ENV"],
            "process.pid": os.getpid(),  # which gunicorn worker
        }
    )
    sampler = ParentBased(TraceIdRatioBased(settings["OTEL_SAMPLE_RATIO"]))
    traces = TracerProvider(resource=resource, sampler=sampler)
    if exporter is None:
        exporter = OTLPSpanExporter(
            endpoint=settings["OTEL_ENDPOINT"] + TRACES_PATH, timeout=EXPORT_TIMEOUT_SECONDS
        )
    traces.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=MAX_QUEUE_SIZE))
    return traces


def store_spans(tracer: trace.Tracer) -> SpanFactory:
    """Spans for store calls made inside a recorded request; none elsewhere (the activity
    tracker's background flush would otherwise start a trace of its own every few seconds)."""
    attributes = {"db.system.name": "sqlite"}

    def span(name: str) -> AbstractContextManager[object]:
        if not trace.get_current_span().is_recording():
            return nullcontext()
        operation = name.partition(".")[2]
        return tracer.start_as_current_span(
            name,
            kind=trace.SpanKind.CLIENT,
            attributes={**attributes, "db.operation.name": operation},
        )

    return span


def traced_store(app: Flask, store: UserStateStore) -> UserStateStore:
    """`store` with a span around each call, under `app`'s tracer provider."""
    tracer = app.extensions[TRACING].get_tracer("service.store")
    return TracedStore(store, store_spans(tracer))


def _name_by_method(span: trace.Span, environ: dict[str, Any]) -> None:
    """Before routing: the middleware names a span after the raw path; keep the method only."""
    if isinstance(span, trace.NonRecordingSpan) or not span.is_recording():
        return
    span.update_name(getattr(span, "name", "HTTP").partition(" ")[0])


def _name_by_route(endpoint: str | None = None, values: object = None) -> None:
    """After routing (a url_value_preprocessor): the route template names the span."""
    span = trace.get_current_span()
    rule = request.url_rule
    if rule is None or not span.is_recording():
        return
    span.update_name(f"{request.method} {rule.rule}")
    span.set_attribute("http.route", rule.rule)


def _with_trace_id(wsgi_app: Any) -> Any:
    """Hand the server span's trace id to observe.py through the WSGI environ."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            environ[SPAN_TRACE_ID] = trace.format_trace_id(context.trace_id)
        return wsgi_app(environ, start_response)

    return app


def init_app(app: Flask, exporter: SpanExporter | None = None) -> None:
    """Trace `app`'s requests (call before the store is wrapped by traced_store)."""
    traces = provider(dict(app.config), exporter)
    app.extensions[TRACING] = traces
    app.url_value_preprocessor(_name_by_route)
    app.wsgi_app = OpenTelemetryMiddleware(  # type: ignore[method-assign]
        _with_trace_id(app.wsgi_app), request_hook=_name_by_method, tracer_provider=traces
    )


def shutdown(app: Flask) -> None:
    """Export the spans still queued, then stop the worker's export thread."""
    traces: TracerProvider | None = app.extensions.get(TRACING)
    if traces is not None:
        traces.shutdown()
