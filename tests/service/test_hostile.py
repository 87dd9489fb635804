"""Hostile requests against real gunicorn, which de-chunks bodies before the app sees them.

Each is sent as raw bytes on its own connection, so the test says exactly what the wire held.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.service.conftest import Service, serving

pytestmark = pytest.mark.slow

STATE = "/api/users/mallory/state"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    yield from serving(tmp_path_factory, "hostile")


def send(service: Service, head: str, body: bytes = b"") -> tuple[int, dict[str, Any]]:
    """Write one request verbatim, read the answer until the server closes; (status, JSON)."""
    request = f"{head}\r\nHost: x\r\nConnection: close\r\n\r\n".encode() + body
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    header, _, payload = answer.partition(b"\r\n\r\n")
    status = int(header.split()[1])
    return status, json.loads(payload) if payload.strip() else {}


def chunks(body: bytes) -> bytes:
    return f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"


CHUNKED = f"POST {STATE} HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked"


def test_a_chunked_write_within_the_limit_is_stored(service: Service) -> None:
    status, body = send(service, CHUNKED, chunks(b'{"deviceLabel": "chunked"}'))
    assert status == 200 and body["deviceLabel"] == "chunked"


def test_a_malformed_chunked_body_is_a_json_400(service: Service) -> None:
    status, body = send(service, CHUNKED, b"zz\r\nabc\r\n0\r\n\r\n")
    assert status == 400, body
    assert body["error"] == "malformed_body" and "chunk" in body["message"]


def test_an_oversized_chunked_body_is_a_json_413_naming_the_limit(service: Service) -> None:
    huge = json.dumps({"deviceLabel": "x" * 6000}).encode()
    status, body = send(service, CHUNKED, chunks(huge))
    assert status == 413, body
    assert body["error"] == "request_entity_too_large" and "4096 bytes" in body["message"]


def test_json_nested_2000_deep_is_a_json_400(service: Service) -> None:
    deep = b"[" * 2000 + b"]" * 2000
    head = f"POST {STATE} HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {len(deep)}"
    status, body = send(service, head, deep)
    assert status == 400, body
    assert body["error"] == "json_too_deep" and "32" in body["message"]


def test_no_hostile_request_above_was_a_server_error(service: Service) -> None:
    send(service, CHUNKED, b"zz\r\n")
    lines = [line for line in service.logs() if "statusCode" in line]
    assert lines and all(line["statusCode"] < 500 for line in lines)
    assert not [line for line in service.logs() if line.get("event") == "unhandled_exception"]


def test_preflights_are_not_users_under_gunicorn(service: Service) -> None:
    for n in range(100):
        head = f"OPTIONS /api/users/preflight-{n}/state HTTP/1.1\r\nOrigin: https://example.com"
        assert send(service, head)[0] < 400
    status, summary = send(service, "GET /api/metrics HTTP/1.1")
    assert status == 200
    assert summary["users"]["current"] <= 1  # at most the chunked writer above, never 100


def test_every_line_gunicorn_and_the_app_write_names_the_service(service: Service) -> None:
    lines = service.logs()
    assert lines and all(
        (line["service"], line["version"], line["environment"]) == ("onebox", "dev", "production")
        for line in lines
    )
    requests = [line for line in lines if "statusCode" in line]
    assert all(line["clientAddress"] == "127.0.0.1" for line in requests)
