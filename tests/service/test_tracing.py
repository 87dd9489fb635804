"""Tracing: spans for requests and store calls, recorded by the SDK's in-memory exporter.

No network: the exporter keeps the finished spans. Each response is closed (as gunicorn closes
every response) because the server span ends when its response has been sent.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from service import config
from service.web import create_app, runtime
from tests.support import ROOT

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"
TRACEPARENT = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
ENDPOINT = "http://127.0.0.1:4318"


def _app(tmp_path: Path, **overrides: Any) -> Iterator[Flask]:
    app = create_app({"DATABASE": str(tmp_path / "app.db"), "ENV": "test", **overrides})
    yield app
    app.extensions["onebox"].activity.close()
    app.extensions["onebox"].store.close()
    if runtime.TRACING in app.extensions:
        app.extensions[runtime.TRACING].shutdown()


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def traced_app(tmp_path: Path, exporter: InMemorySpanExporter) -> Iterator[Flask]:
    yield from _app(tmp_path, OTEL_ENDPOINT=ENDPOINT, OTEL_EXPORTER=exporter)


@pytest.fixture
def traced(traced_app: Flask) -> FlaskClient:
    return traced_app.test_client()


def finished(app: Flask, exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    app.extensions[runtime.TRACING].force_flush()
    return list(exporter.get_finished_spans())


def request(client: FlaskClient, method: str, path: str, **kwargs: Any) -> Any:
    response = client.open(path, method=method, **kwargs)
    response.close()  # ends the server span, as gunicorn does after sending
    return response


def server_span(spans: list[ReadableSpan]) -> ReadableSpan:
    [span] = [s for s in spans if s.kind is SpanKind.SERVER]
    return span


def test_a_request_with_a_traceparent_continues_the_callers_trace(
    traced_app: Flask, traced: FlaskClient, exporter: InMemorySpanExporter
) -> None:
    body = {"isMuted": True}
    request(traced, "PATCH", "/api/users/alice/mute", json=body)  # the user exists
    finished(traced_app, exporter)
    exporter.clear()
    request(traced, "GET", "/api/users/alice/state", headers={"traceparent": TRACEPARENT})
    spans = finished(traced_app, exporter)
    server = server_span(spans)
    assert server.parent is not None and server.parent.is_remote
    assert f"{server.parent.span_id:016x}" == CALLER_SPAN
    assert f"{server.context.trace_id:032x}" == CALLER_TRACE
    [store] = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert store.name == "store.get_state"
    assert store.parent is not None and store.parent.span_id == server.context.span_id
    assert store.context.trace_id == server.context.trace_id
    assert store.attributes == {"db.system.name": "sqlite", "db.operation.name": "get_state"}


def test_the_server_span_is_named_after_the_route_template_not_the_raw_path(
    traced_app: Flask, traced: FlaskClient, exporter: InMemorySpanExporter
) -> None:
    request(traced, "PATCH", "/api/users/bob/mute", json={"isMuted": False})
    request(traced, "GET", "/no/such/path")
    routed, unmatched = sorted(
        (s for s in finished(traced_app, exporter) if s.kind is SpanKind.SERVER),
        key=lambda s: s.start_time or 0,
    )
    assert routed.name == "PATCH /api/users/<userId>/mute"
    assert routed.attributes is not None
    assert routed.attributes["http.route"] == "/api/users/<userId>/mute"
    assert routed.attributes["http.status_code"] == 200
    assert unmatched.name == "GET"  # no route: the method alone, never the path
    assert unmatched.attributes is not None and "http.route" not in unmatched.attributes


def test_a_write_has_a_span_for_its_update_and_the_activity_batch_none(
    traced_app: Flask, traced: FlaskClient, exporter: InMemorySpanExporter
) -> None:
    request(traced, "POST", "/api/users/carol/state", json={"deviceId": "mic-1"})
    traced_app.extensions["onebox"].activity.flush()  # as its thread does, outside any request
    spans = finished(traced_app, exporter)
    server = server_span(spans)
    [update] = [s for s in spans if s.kind is SpanKind.CLIENT]  # no trace of its own per flush
    assert update.name == "store.update_state"
    assert update.parent is not None and update.parent.span_id == server.context.span_id
    assert traced_app.extensions["onebox"].store.active_users(0).current == 1  # it was written


def test_the_log_line_carries_the_spans_trace_id(
    traced_app: Flask,
    traced: FlaskClient,
    exporter: InMemorySpanExporter,
    capsys: pytest.CaptureFixture[str],
) -> None:
    request(traced, "GET", "/api/health", headers={"traceparent": TRACEPARENT})
    request(traced, "GET", "/api/health")  # no caller: a new trace, logged all the same
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    logged = [line["traceId"] for line in lines if "requestId" in line]
    spans = sorted(
        (s for s in finished(traced_app, exporter) if s.kind is SpanKind.SERVER),
        key=lambda s: s.start_time or 0,
    )
    assert logged == [f"{s.context.trace_id:032x}" for s in spans]
    assert logged[0] == CALLER_TRACE and logged[1] != CALLER_TRACE


def test_resource_names_the_service_version_and_environment(
    tmp_path: Path, exporter: InMemorySpanExporter
) -> None:
    settings = {"OTEL_ENDPOINT": ENDPOINT, "OTEL_EXPORTER": exporter, "VERSION": "r42"}
    for app in _app(tmp_path, **settings):
        request(app.test_client(), "GET", "/api/health")
        attributes = server_span(finished(app, exporter)).resource.attributes
        assert attributes["service.name"] == "onebox"
        assert attributes["service.version"] == "r42"
        assert attributes["deployment.environment"] == "test"


def test_an_unsampled_caller_gets_no_spans(
    traced_app: Flask, traced: FlaskClient, exporter: InMemorySpanExporter
) -> None:
    unsampled = f"00-{CALLER_TRACE}-{CALLER_SPAN}-00"
    response = request(traced, "GET", "/api/users/dave/state", headers={"traceparent": unsampled})
    assert response.status_code == 404
    assert finished(traced_app, exporter) == []


def test_an_unreachable_collector_never_slows_or_fails_a_request(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on: connections are refused
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    for app in _app(tmp_path, OTEL_ENDPOINT=closed):
        client = app.test_client()
        started = time.perf_counter()
        for number in range(50):
            response = request(
                client, "PATCH", f"/api/users/u{number}/mute", json={"isMuted": True}
            )
            assert response.status_code == 200
        assert time.perf_counter() - started < 10  # the export runs on its own thread
        started = time.perf_counter()
        app.extensions[runtime.TRACING].shutdown()  # the worker-exit flush is bounded too
        assert time.perf_counter() - started < 10


def test_with_tracing_off_no_process_of_the_box_imports_opentelemetry(tmp_path: Path) -> None:
    program = (
        "import sys\n"
        "import service.web, service.db, service.store\n"
        "import service.publish.loop, service.backup.commands, service.agent.deploy\n"
        "from service.web import create_app\n"
        f"app = create_app({{'DATABASE': {str(tmp_path / 'off.db')!r}, 'ENV': 'test'}})\n"
        "app.test_client().get('/api/health').close()\n"
        "print(sorted(name for name in sys.modules if name.startswith('opentelemetry')))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.splitlines()[-1] == "[]"


# Requests whose answers must not change when tracing is turned on: (method, path, kwargs).
API_REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("PATCH", "/api/users/erin/mute", {"json": {"isMuted": True}}),
    ("PATCH", "/api/users/erin/device", {"json": {"deviceId": "d1", "deviceLabel": "Mic"}}),
    ("POST", "/api/users/erin/state", {"json": {"isMuted": False}}),
    ("GET", "/api/users/erin/state", {"headers": {"traceparent": TRACEPARENT}}),
    ("HEAD", "/api/users/erin/state", {}),
    ("GET", "/api/users/nobody/state", {}),
    ("GET", "/api/users/-bad-/state", {}),
    ("PATCH", "/api/users/erin/mute", {"data": "{", "content_type": "application/json"}),
    ("PATCH", "/api/users/erin/mute", {"data": "x", "content_type": "text/plain"}),
    ("PATCH", "/api/users/erin/mute", {"json": {"isMuted": 1}}),
    ("DELETE", "/api/users/erin/state", {}),
    ("OPTIONS", "/api/users/erin/mute", {"headers": {"Origin": "https://app.example"}}),
    ("GET", "/no/such/path", {}),
    ("GET", "/api/health/live", {}),
]
CLOCK_FIELDS = ("updatedAt", "timestamp")  # the time of the answer: different on every run


def answers(app: Flask) -> list[tuple[int, list[tuple[str, str]], bytes]]:
    """Status, every header in order, and the body (with its clock fields blanked)."""
    client = app.test_client()
    seen = []
    for number, (method, path, kwargs) in enumerate(API_REQUESTS):
        headers = {"X-Request-ID": f"req-{number}", **kwargs.get("headers", {})}
        response = request(client, method, path, **{**kwargs, "headers": headers})
        body = response.get_data()
        if response.mimetype == "application/json" and body:
            data = json.loads(body)
            for field in CLOCK_FIELDS:
                if isinstance(data, dict) and field in data:
                    data[field] = "<clock>"
            body = json.dumps(data).encode()
        seen.append((response.status_code, list(response.headers.items()), body))
    return seen


def test_turning_tracing_on_does_not_change_the_api(
    tmp_path: Path, exporter: InMemorySpanExporter
) -> None:
    cors = {"CORS_ORIGINS": ("https://app.example",)}
    for off in _app(tmp_path / "off", **cors):
        expected = answers(off)
    on_settings = {"OTEL_ENDPOINT": ENDPOINT, "OTEL_EXPORTER": exporter, **cors}
    for on in _app(tmp_path / "on", **on_settings):
        assert answers(on) == expected
        assert len(finished(on, exporter)) > len(API_REQUESTS)  # it did trace them


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("APP_OTEL_ENDPOINT", "collector:4318"),
        ("APP_OTEL_ENDPOINT", "ftp://collector"),
        ("APP_OTEL_SAMPLE_RATIO", "1.5"),
        ("APP_OTEL_SAMPLE_RATIO", "half"),
    ],
)
def test_a_bad_tracing_setting_stops_the_service_naming_it(variable: str, raw: str) -> None:
    with pytest.raises(config.ConfigError, match=variable):
        config.from_environ({variable: raw})


def test_tracing_is_off_unless_an_endpoint_is_given() -> None:
    settings = config.defaults()
    assert settings["OTEL_ENDPOINT"] == ""
    endpoint = {"APP_OTEL_ENDPOINT": " http://collector:4318/ "}
    assert config.from_environ(endpoint)["OTEL_ENDPOINT"] == "http://collector:4318"
