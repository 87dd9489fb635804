"""Fixtures for the publisher tests: moto_server, and a tiny HTTP stand-in on 127.0.0.1 that
plays the service's /metrics and the instance metadata service (IMDSv2)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest


@dataclass
class FakeServer:
    """Answers GET/PUT `path` with routes[(method, path)] = (status, body); records every hit."""

    url: str
    routes: dict[tuple[str, str], tuple[int, bytes]] = field(default_factory=dict)
    hits: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


def _handler(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            headers = {name.lower(): value for name, value in self.headers.items()}
            fake.hits.append((self.command, self.path, headers))
            status, body = fake.routes.get((self.command, self.path), (404, b"not found"))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = _answer

        def log_message(self, format: str, *args: Any) -> None:
            return  # keep the test output clean

    return Handler


@pytest.fixture
def fake_http() -> Iterator[FakeServer]:
    """A fake HTTP server on a free 127.0.0.1 port, shut down after the test."""
    fake = FakeServer(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def cloudwatch(aws_env: dict[str, str]) -> Any:
    return boto3.client("cloudwatch")
