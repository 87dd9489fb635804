"""A fixed request rate, open loop, measured without coordinated omission (bench/load.py).

Request i of the 80/20 mix is due at start + i/rate whatever happened before it, each on a new
connection, and its latency counts from the time it was *due*, not from when it was sent: when
the server falls behind, the requests that waited in line are charged the wait, as real clients
would be.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from bench.load import Load
from bench.mix import USERS
from bench.servers import Contender

CLIENTS = 64  # enough that 150 req/s of requests up to ~400 ms never waits for a free client
P95_MS = 200.0  # a rate is sustained when p95 stays under this and nothing fails


@dataclass
class FixedRate:
    """What one fixed-rate run saw."""

    target_rate: float
    due: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    wall_seconds: float = 0.0
    cpu_ms_per_request: float = 0.0  # the group's CPU (nginx and the server) per answer
    rss_mb: float = 0.0  # the server's processes, right after the run

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
        """Every due request answered as expected, with p95 under P95_MS."""
        return self.errors == 0 and self.completed == self.due and self.percentile(95) < P95_MS


def fixed_rate(contender: Contender, rate: float, seconds: float, run: int = 1) -> FixedRate:
    """rate*seconds requests of the mix to `contender` on a fixed schedule, and its CPU spent."""
    if rate <= 0 or seconds <= 0:
        raise ValueError(f"rate={rate!r}, seconds={seconds!r}: both must be positive")
    due = round(rate * seconds)
    load = Load(contender.port, f"rate{run}", CLIENTS, rate=rate, total=due, users=USERS)
    load.token, load.timeout = contender.token, 10.0
    before = contender.cpu_seconds()
    with load:
        tally = load.join()
    cpu = contender.cpu_seconds() - before
    ok = [o for o in tally.outcomes if o.kind == "ok"]
    result = FixedRate(rate, due, [o.latency * 1000 for o in ok], len(tally.outcomes) - len(ok))
    result.wall_seconds = max((o.end for o in tally.outcomes), default=load.started) - load.started
    result.cpu_ms_per_request = cpu * 1000 / max(result.completed, 1)
    result.rss_mb = contender.rss_mb()
    return result
