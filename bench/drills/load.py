"""A steady, bounded load on 127.0.0.1: a few threads of mixed GET/PATCH, every outcome kept.

Each PATCH creates a user of its own (`<prefix>-<thread>-<n>`) with a unique deviceId, so an
acknowledged write (200 echoing that deviceId) can be looked up in the database afterwards.
Each GET reads a user this thread wrote before, so a lost write also shows up as a 404.

Outcomes: ok (the answer we expect), full (507 on a write: the disk-full answer), failed (5xx
or any other unexpected answer) and refused (the connection could not be made, or was broken
before an answer: `reset` counts the latter apart).
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

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Outcome:
    """One request: when it ran, how it ended, and the write it carried (if any)."""

    kind: str  # ok, full, failed, refused, reset
    method: str
    start: float
    end: float
    status: int = 0
    user: str = ""
    device: str = ""

    @property
    def acked_write(self) -> bool:
        return self.method == "PATCH" and self.kind == "ok"


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


@dataclass
class Load:
    """`threads` clients on `port`, each pausing `pause` seconds between two requests."""

    port: int
    prefix: str
    threads: int = 4
    write_share: float = 0.5
    pause: float = 0.01
    timeout: float = 35.0  # above gunicorn's graceful_timeout: a drained request still counts
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def __enter__(self) -> Load:
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
        for worker in self._workers:
            worker.join(timeout=self.timeout + 5)
        return self.window(0.0)

    def window(self, since: float, until: float = float("inf")) -> Tally:
        """Outcomes of the requests that started in [since, until) (time.monotonic)."""
        with self._lock:
            return Tally([o for o in self.outcomes if since <= o.start < until])

    def _client(self, number: int) -> None:
        rng = random.Random(f"{self.prefix}-{number}")
        written: list[str] = []
        sequence = 0
        while not self._stop.is_set():
            if not written or rng.random() < self.write_share:
                sequence += 1
                outcome = self._write(f"{self.prefix}-{number}-{sequence}", f"d{sequence}")
                if outcome.acked_write:
                    written.append(outcome.user)
            else:
                outcome = self._read(rng.choice(written))
            with self._lock:
                self.outcomes.append(outcome)
            # A client that was refused waits longer before it tries again, as a real one would.
            self._stop.wait(self.pause if outcome.kind != "refused" else max(self.pause, 0.1))

    def _write(self, user: str, device: str) -> Outcome:
        body = json.dumps({"deviceId": device, "deviceLabel": "drill"})
        start = time.monotonic()
        status, payload, error = self._request("PATCH", f"/api/users/{user}/device", body)
        kind = error or _write_kind(status, payload, device)
        return Outcome(kind, "PATCH", start, time.monotonic(), status, user, device)

    def _read(self, user: str) -> Outcome:
        start = time.monotonic()
        status, payload, error = self._request("GET", f"/api/users/{user}/state")
        kind = error or ("ok" if status == 200 and payload.get("userId") == user else "failed")
        return Outcome(kind, "GET", start, time.monotonic(), status, user)

    def _request(
        self, method: str, path: str, body: str | None = None
    ) -> tuple[int, dict[str, Any], str]:
        """(status, JSON body, "") or (0, {}, "refused"/"reset"); a new connection each time,
        so a connection closed by a restarting server is never reused by mistake."""
        conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
        try:
            try:
                conn.connect()
            except OSError:
                return 0, {}, "refused"
            headers = {"Content-Type": "application/json", "Connection": "close"}
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException):
                return 0, {}, "reset"
            return response.status, _json(raw), ""
        finally:
            conn.close()


def _write_kind(status: int, payload: dict[str, Any], device: str) -> str:
    if status == 200 and payload.get("deviceId") == device:
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
