"""The service under real gunicorn, started exactly as its systemd unit starts it.

Cross-worker metrics, SIGTERM with requests in flight, kill -9 in the middle of writes, and
the log stream: each proved against real processes, real sockets and a real SQLite file.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing, suppress
from typing import Any

import pytest

from service.web.activity import FLUSH_SECONDS as ACTIVITY_FLUSH_SECONDS
from service.web.metrics import FLUSH_SECONDS
from tests.service.conftest import Service
from tests.support import wait_until

pytestmark = pytest.mark.slow


def call(service: Service, method: str, path: str, body: object = None) -> tuple[int, Any]:
    """One request on a fresh connection (so gunicorn may hand it to any worker)."""
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=30)
    try:
        payload = None if body is None else json.dumps(body)
        headers = {} if body is None else {"Content-Type": "application/json"}
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def test_metrics_count_every_workers_requests(start_service: Callable[..., Service]) -> None:
    service = start_service()
    pids: set[int] = set()  # the workers whose scrape has counted every request sent so far

    def counts_all(sent: int) -> bool:
        _, summary = call(service, "GET", "/api/metrics")
        mute = summary["api"]["byEndpoint"].get("/api/users/<userId>/mute", {}).get("count", 0)
        assert mute <= sent  # never a request counted twice
        if mute == sent:
            pids.add(summary["system"]["pid"])
        return mute == sent

    sent = 0
    for _ in range(200):  # bounded: new connections reach both workers long before this
        assert call(service, "PATCH", f"/api/users/u{sent}/mute", {"isMuted": True})[0] == 200
        sent += 1
        # Whichever worker answers counts all of them: its own at once, the other worker's
        # once that one has flushed (every FLUSH_SECONDS).
        wait_until(lambda n=sent: counts_all(n), timeout=10 * FLUSH_SECONDS, what=f"{sent} counted")
        if len(pids) == 2:
            break
    assert len(pids) == 2

    def users() -> int:  # distinct users, the same from every worker once both have flushed
        current: int = call(service, "GET", "/api/metrics")[1]["users"]["current"]
        assert current <= sent
        return current

    wait_until(lambda: users() == sent, timeout=10 * ACTIVITY_FLUSH_SECONDS, what="every user")


def test_requests_stay_counted_when_the_workers_are_replaced(
    start_service: Callable[..., Service],
) -> None:
    service = start_service()
    old = {call(service, "GET", "/api/metrics")[1]["system"]["pid"] for _ in range(20)}
    for n in range(20):  # counted in the workers' memory, written to their files by a flush
        assert call(service, "PATCH", f"/api/users/r{n}/mute", {"isMuted": True})[0] == 200
    service.signal(signal.SIGHUP)  # new workers; the old ones finish, flush and exit

    def new_worker_counts() -> bool:
        _, summary = call(service, "GET", "/api/metrics")
        if summary["system"]["pid"] in old:
            return False
        counted = summary["api"]["byEndpoint"]["/api/users/<userId>/mute"]["count"]
        assert counted <= 20
        return bool(counted == 20)

    wait_until(new_worker_counts, timeout=30, what="a new worker counting the old ones' requests")


IN_FLIGHT = 2  # a request per sync worker, and gunicorn.conf.py runs two


def test_sigterm_lets_in_flight_requests_finish_and_logs_the_shutdown_events(
    start_service: Callable[..., Service],
) -> None:
    service = start_service()
    results: list[int] = []
    # Hold the write lock so the writes below are in flight (waiting on busy_timeout, 5 s).
    with closing(sqlite3.connect(service.database, isolation_level=None)) as blocker:
        blocker.execute("BEGIN IMMEDIATE")
        threads = [
            threading.Thread(
                target=lambda n=n: results.append(
                    call(service, "PATCH", f"/api/users/slow{n}/mute", {"isMuted": True})[0]
                )
            )
            for n in range(IN_FLIGHT)
        ]
        for thread in threads:
            thread.start()
        # In flight means accepted by a worker, not only queued in the kernel's backlog: a
        # SIGTERM closes the listener, and whatever is still queued there is reset (on the box
        # systemd holds the listening socket too, and the next master takes those).
        wait_until(
            lambda: _connections_to(service.port) >= IN_FLIGHT and _accept_queue(service.port) == 0,
            what=f"{IN_FLIGHT} requests in flight",
        )
        service.signal(signal.SIGTERM)
        wait_until(lambda: "shutdown_initiated" in service.events(), what="shutdown_initiated")
        blocker.execute("COMMIT")
    for thread in threads:
        thread.join(timeout=30)
    assert service.wait() == 0
    assert results == [200] * IN_FLIGHT
    events = service.events()
    assert events[0] == "shutdown_initiated"
    assert events[-1] == "shutdown_complete"
    assert events.count("server_closed") == 2 and events.count("database_closed") == 2
    for n in range(IN_FLIGHT):  # every acknowledged write is stored
        with closing(sqlite3.connect(service.database)) as conn:
            assert conn.execute(
                "SELECT is_muted FROM user_states WHERE user_id = ?", (f"slow{n}",)
            ).fetchone() == (1,)


def _connections_to(port: int) -> int:
    """Established TCP connections to `port` on loopback, from /proc/net/tcp."""
    count = 0
    with open("/proc/net/tcp") as table:
        for line in list(table)[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "01" and int(local.split(":")[1], 16) == port:
                count += 1
    return count


def _accept_queue(port: int) -> int:
    """Connections to `port` waiting in the listening socket's accept queue (rx_queue of the
    LISTEN entry in /proc/net/tcp); -1 when there is no listener."""
    with open("/proc/net/tcp") as table:
        for line in list(table)[1:]:
            fields = line.split()
            local, queues, state = fields[1], fields[4], fields[3]
            if state == "0A" and int(local.split(":")[1], 16) == port:
                return int(queues.split(":")[1], 16)
    return -1


def test_kill_9_during_writes_loses_no_acknowledged_write(
    start_service: Callable[..., Service],
) -> None:
    service = start_service()
    acknowledged: dict[str, str] = {}
    stop = threading.Event()

    def writer(name: str) -> None:
        for n in range(10_000):  # bounded; the kill ends it long before
            if stop.is_set():
                return
            try:
                status, _ = call(service, "PATCH", f"/api/users/{name}-{n}/device",
                                 {"deviceId": f"d{n}", "deviceLabel": name})  # fmt: skip
            except (OSError, http.client.HTTPException):  # cut off by the kill: not acknowledged
                return
            if status == 200:
                acknowledged[f"{name}-{n}"] = f"d{n}"

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(acknowledged) >= 60, what="60 acknowledged writes")
    os.killpg(service.proc.pid, signal.SIGKILL)  # master and workers, mid-write
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    service.wait()

    restarted = start_service(database=service.database)
    for user, device in list(acknowledged.items()):
        status, state = call(restarted, "GET", f"/api/users/{user}/state")
        assert (status, state["deviceId"]) == (200, device)
    with closing(sqlite3.connect(service.database)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_every_line_the_service_writes_is_json(start_service: Callable[..., Service]) -> None:
    service = start_service()
    call(service, "PATCH", "/api/users/user-123/mute", {"isMuted": True})
    call(service, "PATCH", "/api/users/user-123/mute", {"isMuted": 3})
    call(service, "GET", "/nowhere")
    service.stop()
    entries = service.logs()  # raises if any line is not JSON
    requests = [e for e in entries if "statusCode" in e and e["path"] != "/api/health/ready"]
    assert [e["statusCode"] for e in requests] == [200, 400, 404]
    assert {e["level"] for e in entries if e.get("logger") == "gunicorn.error"} <= {"info"}


def test_clients_that_stall_mid_request_are_cut_off_and_cannot_hold_the_service(
    start_service: Callable[..., Service],
) -> None:
    service = start_service()
    stalled = []
    try:
        for _ in range(4):  # more than the 2 workers there are
            sock = socket.create_connection(("127.0.0.1", service.port), timeout=25)
            sock.sendall(b"GET /api/health/live HTTP/1.1\r\n")  # and never the rest
            stalled.append(sock)
        for sock in stalled:  # each read ends after CLIENT_READ_TIMEOUT (10 s): EOF, not a hang
            with suppress(ConnectionResetError):
                assert sock.recv(1) == b""
        status, body = call(service, "GET", "/api/health/live")
    finally:
        for sock in stalled:
            sock.close()
    assert (status, body["status"]) == (200, "alive")
