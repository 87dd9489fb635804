"""The load generator of the drills, the deploy tests and the benchmarks: threads on 127.0.0.1.

Closed loop (the default): each of `threads` clients sends its next request when the previous
one has answered, `pause` seconds later, until stopped. Open loop (`rate` set): request i is due
at start + i/rate whatever happened before it, and counts from its due time, so a server that
falls behind is charged the wait, as real clients would charge it (wrk2 does the same).

What is sent is chosen by bench/mix.py: by default each write creates a user of its own, so
acknowledged writes can be checked afterwards; with `users` set, the benchmarks' 80/20 mix.
Nothing is retried. Outcomes: ok (the answer we expect), full (507 on a write: the disk-full
answer), failed (5xx or any other unexpected answer), refused (no connection could be made)
and reset (the connection broke before an answer).
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.mix import Request, auth, own_writes, pick

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Outcome:
    """One request: when it started (or was due), how it ended, and the write it carried."""

    kind: str  # ok, full, failed, refused, reset
    method: str
    start: float  # time.monotonic()
    end: float
    status: int = 0
    user: str = ""
    device: str = ""
    detail: str = ""  # what went wrong, for a failure message

    @property
    def acked_write(self) -> bool:
        return self.method != "GET" and self.kind == "ok"

    @property
    def latency(self) -> float:
        return self.end - self.start


@dataclass
class Tally:
    """Counts of one window of outcomes."""

    outcomes: list[Outcome]

    def count(self, *kinds: str, method: str | None = None) -> int:
        return sum(1 for o in self.outcomes if o.kind in kinds and method in (None, o.method))

    @property
    def ok(self) -> int:
        return self.count("ok")

    @property
    def failed(self) -> int:
        return self.count("failed")

    @property
    def refused(self) -> int:
        return self.count("refused", "reset")

    def kinds(self) -> Counter[str]:
        return Counter(o.kind for o in self.outcomes)

    def acked(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.acked_write]

    def problems(self) -> list[str]:
        return [f"{o.kind} {o.method} {o.user}: {o.detail}" for o in self.outcomes if o.detail]


@dataclass
class Load:
    """`threads` clients on `port`; a context manager that starts them and stops them."""

    port: int
    prefix: str = "load"  # users of the own-writes mix are <prefix>-<client>-<n>
    threads: int = 4
    write_share: float = 0.5
    pause: float = 0.01  # closed loop: seconds between two requests of one client
    keepalive: bool = False  # keep each client's connection open, as browsers do
    rate: float | None = None  # open loop: requests per second across all clients
    total: int | None = None  # the clients stop by themselves after this many requests
    users: int = 0  # > 0: the benchmarks' 80/20 mix over that many users
    token: str = ""  # sent as a bearer token with every request, as the API's clients do
    timeout: float = 35.0  # above gunicorn's graceful_timeout: a drained request still counts
    limit: float = 600.0  # seconds: no client runs longer, whatever happens
    outcomes: list[Outcome] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self._taken = 0
        self.started = time.monotonic()

    def __enter__(self) -> Load:
        # Open loop: the first request is due once every client has had time to start.
        self.started = time.monotonic() + (0.2 if self.rate else 0.0)
        for number in range(self.threads):
            worker = threading.Thread(target=self._client, args=(number,), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> Tally:
        """Stop the clients (each finishes its request in flight) and return every outcome."""
        self._stop.set()
        return self.join()

    def join(self) -> Tally:
        """Wait for the clients to finish by themselves (`total` or `limit`); every outcome."""
        for worker in self._workers:
            worker.join(timeout=self.limit + self.timeout + 5)
        return self.window(0.0)

    def window(self, since: float, until: float = float("inf")) -> Tally:
        """Outcomes of the requests that started in [since, until) (time.monotonic)."""
        with self._lock:
            return Tally([o for o in self.outcomes if since <= o.start < until])

    def wait_for_requests(self, count: int, timeout: float = 120.0) -> None:
        """Block until `count` more requests have ended; TimeoutError after `timeout` s."""
        with self._lock:
            target = len(self.outcomes) + count
        deadline = time.monotonic() + timeout
        while len(self.outcomes) < target:
            if time.monotonic() > deadline:
                raise TimeoutError(f"load: {target} requests not reached: {self.window(0).kinds()}")
            time.sleep(0.02)

    def _next_start(self) -> float | None:
        """When the next request starts (open loop: is due), or None when there is none."""
        with self._lock:
            if self.total is not None and self._taken >= self.total:
                return None
            number, self._taken = self._taken, self._taken + 1
        if self.rate is None:
            return time.monotonic()
        due = self.started + number / self.rate
        time.sleep(max(0.0, due - time.monotonic()))
        return due

    def _client(self, number: int) -> None:
        rng = random.Random(f"{self.prefix}-{number}")
        written: list[str] = []
        conn: http.client.HTTPConnection | None = None
        deadline = self.started + self.limit
        sequence = 0
        while not self._stop.is_set() and time.monotonic() < deadline:
            start = self._next_start()
            if start is None:
                break
            sequence += 1
            user = f"{self.prefix}-{number}-{sequence}"
            if self.users:
                request = pick(rng, self.users)
            else:
                request = own_writes(rng, user, written, self.write_share)
            conn, outcome = self._send(conn, request, start)
            if outcome.acked_write:
                written.append(outcome.user)
            with self._lock:
                self.outcomes.append(outcome)
            if self.rate is None:  # a refused client waits longer, as a real one would
                self._stop.wait(self.pause if outcome.kind != "refused" else max(self.pause, 0.1))
        if conn is not None:
            conn.close()

    def _send(
        self, conn: http.client.HTTPConnection | None, request: Request, start: float
    ) -> tuple[http.client.HTTPConnection | None, Outcome]:
        """Send `request` (on `conn` if kept alive); the connection to reuse, and the outcome."""
        device = str((request.body or {}).get("deviceId", ""))

        def outcome(kind: str, status: int = 0, detail: str = "") -> Outcome:
            end = time.monotonic()
            return Outcome(kind, request.method, start, end, status, request.user, device, detail)

        if conn is None:
            conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
            try:
                conn.connect()
            except OSError as exc:
                conn.close()
                return None, outcome("refused", detail=f"{type(exc).__name__}: {exc}")
            with self._lock:
                self.connections += 1
        headers = {"Content-Type": "application/json"} if request.body is not None else {}
        headers |= auth(self.token)
        if not self.keepalive:  # a connection a restarting server closed is never reused
            headers["Connection"] = "close"
        try:
            conn.request(request.method, request.path, body=request.data, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            return None, outcome("reset", detail=f"{type(exc).__name__}: {exc}")
        kind = _kind(request, response.status, _json(raw))
        if not (self.keepalive and not response.will_close):
            conn.close()
            conn = None
        detail = "" if kind in ("ok", "full") else f"HTTP {response.status}"
        return conn, outcome(kind, response.status, detail)


def _kind(request: Request, status: int, payload: dict[str, Any]) -> str:
    """ok: a read of the user, or a write echoed back; full: the disk-full 507; else failed."""
    if request.body is None:
        return "ok" if status == 200 and payload.get("userId") == request.user else "failed"
    if status == 200 and all(payload.get(k) == v for k, v in request.body.items()):
        return "ok"
    if status == 507 and payload.get("error") == "insufficient_storage":
        return "full"
    return "failed"


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
