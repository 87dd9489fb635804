"""A steady, bounded load for the deploy tests: a few threads doing GET and PATCH in a loop.

Nothing is retried: a refused connection, a connection dropped mid-request or a 5xx counts
against the deploy. With keepalive=True the threads hold their connections open across the
reload, as browsers do.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MAX_SECONDS = 120.0
MAX_REQUESTS_PER_THREAD = 20_000


@dataclass
class Load:
    url: str
    threads: int = 4
    # False: a new connection per request. True: each thread keeps its connection open as a
    # browser does, and only a server's "Connection: close" makes it reconnect.
    keepalive: bool = False
    counts: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def _connect(self) -> http.client.HTTPConnection:
        parts = urlsplit(self.url)
        return http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)

    def _one(self, conn: http.client.HTTPConnection, n: int, i: int) -> tuple[str, bool]:
        """One request: its outcome, and whether the connection may be used again."""
        try:
            if i % 2:
                body = json.dumps({"isMuted": bool(i % 4 == 1)})
                headers = {"Content-Type": "application/json"}
                conn.request("PATCH", f"/api/users/load-{n}/mute", body, headers)
            else:
                conn.request("GET", f"/api/users/load-{n}/state")
            response = conn.getresponse()
            response.read()
        except ConnectionRefusedError:
            return "refused", False
        except OSError as exc:
            self._note(f"{type(exc).__name__}: {exc}")
            return "failed", False
        reusable = self.keepalive and not response.will_close
        if response.status >= 500:
            self._note(f"HTTP {response.status}")
            return "failed", reusable
        return "ok", reusable

    def _note(self, error: str) -> None:
        with self._lock:
            self.errors.append(error)

    def _run(self, n: int) -> None:
        deadline = time.monotonic() + MAX_SECONDS
        conn: http.client.HTTPConnection | None = None
        try:
            for i in range(MAX_REQUESTS_PER_THREAD):
                if self._stop.is_set() or time.monotonic() > deadline:
                    return
                if conn is None:
                    conn = self._connect()
                    with self._lock:
                        self.counts["connections"] += 1
                outcome, reusable = self._one(conn, n, i)
                if not reusable:
                    conn.close()
                    conn = None
                with self._lock:
                    self.counts[outcome] += 1
        finally:
            if conn is not None:
                conn.close()

    def __enter__(self) -> Load:
        for n in range(self.threads):
            worker = threading.Thread(target=self._run, args=(n,), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=40)

    @property
    def requests(self) -> int:
        return self.counts["ok"] + self.counts["failed"] + self.counts["refused"]

    def wait_for_requests(self, count: int) -> None:
        """Block until `count` more requests have completed (bounded by MAX_SECONDS)."""
        with self._lock:
            target = self.requests + count
        deadline = time.monotonic() + MAX_SECONDS
        while time.monotonic() < deadline:
            with self._lock:
                if self.requests >= target:
                    return
            time.sleep(0.02)
        raise AssertionError(f"load did not reach {target} requests: {dict(self.counts)}")
