"""Tracing under real gunicorn: every worker exports its own spans over OTLP/HTTP.

A stdlib HTTP server on 127.0.0.1 stands in for the collector and records what reaches
/v1/traces, decoded with OpenTelemetry's own protobuf classes.
"""

from __future__ import annotations

import gzip
import http.client
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.service.conftest import Service
from tests.support import wait_until

pytestmark = pytest.mark.slow


class Collector(ThreadingHTTPServer):
    """Records each exported span as (worker pid, span name)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receive)
        self.spans: list[tuple[int, str]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Receive(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        found = []
        if self.path == "/v1/traces":
            export = ExportTraceServiceRequest.FromString(body)
            for resource_spans in export.resource_spans:
                attributes = {a.key: a.value for a in resource_spans.resource.attributes}
                pid = attributes["process.pid"].int_value
                for scope in resource_spans.scope_spans:
                    found += [(pid, span.name) for span in scope.spans]
        with self.server.lock:
            self.server.spans += found
        self.send_response(200 if self.path == "/v1/traces" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None  # quiet: the test reads what was recorded


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def get(service: Service, path: str) -> tuple[int, object]:
    """One request on a fresh connection (so gunicorn may hand it to any worker)."""
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def test_each_worker_sends_its_spans_to_the_collector_at_the_latest_when_it_exits(
    start_service: Callable[..., Service], collector: Collector
) -> None:
    # Batches would leave every minute: what arrives here is what each worker sent at exit.
    service = start_service(APP_OTEL_ENDPOINT=collector.url, OTEL_BSP_SCHEDULE_DELAY="60000")
    pids: set[int] = set()
    for _ in range(200):  # bounded: new connections reach both workers long before this
        status, summary = get(service, "/api/metrics")
        assert status == 200
        assert isinstance(summary, dict)
        pids.add(summary["system"]["pid"])
        if len(pids) == 2:
            break
    assert len(pids) == 2
    assert collector.spans == []
    service.stop()  # each worker's exit hook sends what it still holds
    wait_until(
        lambda: {pid for pid, _ in collector.spans} >= pids,
        timeout=15,
        what="spans from both workers",
    )
    names = {name for _, name in collector.spans}
    assert "GET /api/metrics" in names
    assert "store.active_users" in names
