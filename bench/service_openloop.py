"""Open-loop load at a fixed rate, measured without coordinated omission.

Request i is due at start + i/rate whatever happened before it. A pool of threads takes the
next due request, waits for its time, sends it, and records the latency from the time it was
*due*, not from when it was sent: when the server falls behind, the requests that waited in
line are charged the wait, as real clients would be. (wrk2 does the same; Debian ships only wrk.)
"""

from __future__ import annotations

import http.client
import random
import statistics
import threading
import time
from dataclasses import dataclass, field

from bench.service_wrk import pick

CLIENTS = 32  # enough that 100 req/s of ~1-100 ms requests never waits for a free client


@dataclass
class OpenLoopResult:
    target_rate: float
    due: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    wall_seconds: float = 0.0
    cpu_ms_per_request: float = 0.0  # the server's, filled in by the caller that can see it

    @property
    def completed(self) -> int:
        return len(self.latencies_ms)

    @property
    def achieved_rate(self) -> float:
        return self.completed / self.wall_seconds if self.wall_seconds else 0.0

    def percentile(self, q: int) -> float:
        """The q-th percentile latency in ms (inclusive method), NaN with too few samples."""
        if len(self.latencies_ms) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[q - 1]

    @property
    def sustained(self) -> bool:
        """Every due request answered 2xx, at (within 2 %) the target rate."""
        return self.errors == 0 and self.achieved_rate >= 0.98 * self.target_rate


class _Schedule:
    """Hands out due times; thread-safe."""

    def __init__(self, rate: float, count: int) -> None:
        self.start = time.monotonic() + 0.2
        self.rate, self.count, self.next = rate, count, 0
        self.lock = threading.Lock()

    def take(self) -> float | None:
        with self.lock:
            if self.next >= self.count:
                return None
            due = self.start + self.next / self.rate
            self.next += 1
            return due


def _client(host: str, port: int, schedule: _Schedule, result: OpenLoopResult, seed: int) -> None:
    rng = random.Random(seed)
    conn = http.client.HTTPConnection(host, port, timeout=10)
    while (due := schedule.take()) is not None:
        time.sleep(max(0.0, due - time.monotonic()))
        method, path, body = pick(rng)
        headers = {"Content-Type": "application/json"} if body else {}
        try:
            conn.request(method, path, body=body, headers=headers)
            reply = conn.getresponse()
            reply.read()
            ok = 200 <= reply.status < 300
        except (OSError, http.client.HTTPException):
            conn.close()  # the next request reconnects
            ok = False
        elapsed_ms = (time.monotonic() - due) * 1000
        with schedule.lock:
            if ok:
                result.latencies_ms.append(elapsed_ms)
            else:
                result.errors += 1
    conn.close()


def run_open_loop(port: int, rate: float, seconds: float, seed: int = 1) -> OpenLoopResult:
    """Send rate*seconds requests of the mix to 127.0.0.1:port on a fixed schedule."""
    if rate <= 0 or seconds <= 0:
        raise ValueError(f"rate={rate!r}, seconds={seconds!r}: both must be positive")
    schedule = _Schedule(rate, round(rate * seconds))
    result = OpenLoopResult(target_rate=rate, due=schedule.count)
    threads = [
        threading.Thread(target=_client, args=("127.0.0.1", port, schedule, result, seed + n))
        for n in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)  # each request times out after 10 s; bounded
    result.wall_seconds = time.monotonic() - schedule.start
    return result
