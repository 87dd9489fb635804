"""What clients get from nginx in front of gunicorn: limits, JSON errors with the request's id,
the origin check, no /metrics, and a JSON access log line per request."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable

from tests.edge.conftest import SECRET, Front, Gunicorn

USER = "/api/users/someone"


def error_of(body: bytes) -> str:
    document = json.loads(body)
    assert set(document) == {"error", "message"}
    return str(document["error"])


def test_health_is_passed_to_gunicorn_with_the_clients_request_id(
    front: Callable[..., Front], gunicorn: Gunicorn
) -> None:
    door = front()
    status, headers, _ = door.request("GET", "/api/health", {"X-Request-ID": "probe-42"})
    assert status == 200
    assert headers["x-request-id"] == "probe-42"  # one header, not nginx's and gunicorn's
    (logged,) = [line for line in gunicorn.logs() if line.get("requestId") == "probe-42"]
    assert logged["clientAddress"] == "127.0.0.1"  # from X-Forwarded-For: the peer is a socket


def test_a_request_id_that_is_not_a_sane_token_is_replaced_by_nginxs(
    front: Callable[..., Front],
) -> None:
    _, headers, _ = front().request("GET", "/api/health", {"X-Request-ID": "bad id!"})
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])


def test_metrics_are_not_served_through_the_front_door(front: Callable[..., Front]) -> None:
    status, headers, body = front().request("GET", "/metrics")
    assert status == 404 and error_of(body) == "not_found"
    assert headers["content-type"].startswith("application/json")
    assert headers["x-request-id"]


def test_a_body_over_the_limit_is_413_sized_or_chunked(front: Callable[..., Front]) -> None:
    door = front(settings={"APP_MAX_BODY_BYTES": "100"})
    status, headers, body = door.request("PUT", USER, body=b"x" * 101)
    assert status == 413 and error_of(body) == "payload_too_large"
    assert headers["x-request-id"]
    chunked = b"3c\r\n" + b"x" * 60 + b"\r\n"  # two chunks of 60 bytes, then the last
    head = f"PUT {USER} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", door.port), timeout=5) as client:
        client.sendall(head + chunked * 2 + b"0\r\n\r\n")
        answer = client.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413")
    assert error_of(answer.partition(b"\r\n\r\n")[2]) == "payload_too_large"


def test_past_its_rate_a_client_gets_429_with_retry_after(front: Callable[..., Front]) -> None:
    door = front(settings={"APP_RATE_READS_PER_MINUTE": "1", "APP_RATE_WRITES_PER_MINUTE": "2"})
    # The rate, and a burst of one (the least nginx takes) beyond it.
    assert [door.request("GET", USER)[0] == 429 for _ in range(2)] == [False, False]
    status, headers, body = door.request("GET", USER)
    assert status == 429 and error_of(body) == "rate_limited"
    assert headers["retry-after"] == "60"
    assert headers["x-request-id"]
    # Writes have their own allowance; health is never limited.
    assert [door.request("DELETE", USER)[0] == 429 for _ in range(3)] == [False, False, True]
    assert door.request("DELETE", USER)[1]["retry-after"] == "30"
    assert all(door.request("GET", "/api/health")[0] == 200 for _ in range(5))


def test_behind_the_edge_the_limit_is_per_viewer(front: Callable[..., Front]) -> None:
    door = front(origin=SECRET, settings={"APP_RATE_READS_PER_MINUTE": "1"})
    for viewer in ("198.51.100.1:1234", "198.51.100.2:1234", "2001:db8::7:443") * 2:
        headers = {"X-Onebox-Origin": SECRET, "CloudFront-Viewer-Address": viewer}
        assert door.request("GET", USER, headers)[0] not in (403, 429)
    headers = {"X-Onebox-Origin": SECRET, "CloudFront-Viewer-Address": "198.51.100.1:999"}
    assert door.request("GET", USER, headers)[0] == 429


def test_without_the_origin_secret_only_health_answers(front: Callable[..., Front]) -> None:
    door = front(origin=SECRET)
    status, headers, body = door.request("GET", USER)
    assert status == 403 and error_of(body) == "forbidden"
    assert headers["x-request-id"]
    assert door.request("GET", USER, {"X-Onebox-Origin": SECRET[:-1] + "x"})[0] == 403
    assert door.request("GET", USER, {"X-Onebox-Origin": SECRET})[0] != 403
    assert door.request("GET", "/api/health/ready")[0] == 200


def test_a_client_that_stops_sending_its_headers_is_cut_off_as_408(
    front: Callable[..., Front],
) -> None:
    door = front(header_timeout=1, body_timeout=1)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", door.port), timeout=5) as client:
        client.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
        answer = _until_closed(client)
    assert time.monotonic() - started < 4
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408")
    assert 408 in [line["status"] for line in _eventually(door)]


def test_a_client_that_stops_sending_its_body_is_cut_off_as_408(
    front: Callable[..., Front],
) -> None:
    door = front(header_timeout=1, body_timeout=1)
    head = f"PUT {USER} HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{{"
    with socket.create_connection(("127.0.0.1", door.port), timeout=5) as client:
        client.sendall(head.encode())
        answer = _until_closed(client)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408")
    assert 408 in [line["status"] for line in _eventually(door)]


def test_each_request_is_one_json_access_log_line(front: Callable[..., Front]) -> None:
    door = front()
    door.request("GET", "/api/health", {"X-Request-ID": "logged-1", "User-Agent": 'a"b'})
    (line,) = [entry for entry in _eventually(door) if entry["requestId"] == "logged-1"]
    assert line["event"] == "http_request" and line["service"] == "nginx"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/health", 200)
    assert line["userAgent"] == 'a"b' and line["client"] == "127.0.0.1"


def _until_closed(client: socket.socket) -> bytes:
    """What nginx sends before it ends the connection: a timed-out request is logged as 408
    and the connection reset (reset_timedout_connection), with nothing sent."""
    try:
        return client.recv(4096)
    except ConnectionResetError:
        return b""


def _eventually(door: Front) -> list[dict[str, object]]:
    """The access log once nginx has written the last request's line (it logs at the end)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if (door.folder / "access.log").exists() and door.access_log():
            lines = door.access_log()
            time.sleep(0.1)
            if door.access_log() == lines:
                return lines
        time.sleep(0.05)
    return door.access_log()
