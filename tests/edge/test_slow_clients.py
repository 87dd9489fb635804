"""12 clients trickling a byte every 3 s do not starve the box: nginx holds their requests
until they are whole, so every health probe still answers within 2 s."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

from tests.edge.conftest import Front

CLIENTS = 12
TRICKLE_SECONDS = 3.0
PROBES = 20
PROBE_EVERY = 0.25
PROBE_LIMIT = 2.0


def trickle(port: int, request: bytes, done: threading.Event) -> None:
    """Send `request` one byte every TRICKLE_SECONDS until `done` or nginx hangs up."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        for byte in request:
            try:
                client.sendall(bytes([byte]))
            except OSError:  # cut off by nginx's timeouts
                return
            if done.wait(TRICKLE_SECONDS):
                return


def test_twelve_trickling_clients_leave_every_health_probe_under_two_seconds(
    front: Callable[..., Front],
) -> None:
    door = front()
    head = b"GET /api/users/slow HTTP/1.1\r\nHost: x\r\n\r\n"  # headers byte by byte
    body = b"PUT /api/users/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 64\r\n\r\n"
    done = threading.Event()
    clients = [
        # Half trickle their headers; half send headers at once, then the body byte by byte.
        threading.Thread(target=trickle, args=(door.port, head if n % 2 else body, done))
        for n in range(CLIENTS)
    ]
    for client in clients:
        client.start()
    try:
        time.sleep(0.5)  # every client connected and has sent its first byte
        took = []
        for _ in range(PROBES):
            started = time.monotonic()
            try:
                status = door.request("GET", "/api/health", timeout=PROBE_LIMIT)[0]
            except OSError:
                status = 0
            took.append((status, time.monotonic() - started))
            time.sleep(PROBE_EVERY)
    finally:
        done.set()
        for client in clients:
            client.join(timeout=10)
    slow = [(status, round(seconds, 3)) for status, seconds in took
            if status != 200 or seconds >= PROBE_LIMIT]  # fmt: skip
    assert slow == [], f"{len(slow)} of {PROBES} probes failed or were slow: {slow}"
