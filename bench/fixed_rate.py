"""A fixed request rate, open loop, measured without coordinated omission (bench/load.py).

Request i of the 80/20 mix is due at start + i/rate whatever happened before it, and its
latency counts from the time it was *due*, not from when it was sent: when the server falls
behind, the requests that waited in line are charged the wait, as real clients would be.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from bench.load import Load
from bench.mix import USERS
from bench.servers import Server

CLIENTS = 32  # enough that 100 req/s of ~1-100 ms requests never waits for a free client


@dataclass
class FixedRate:
    """What one fixed-rate run saw."""

    target_rate: float
    due: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    wall_seconds: float = 0.0
    cpu_ms_per_request: float = 0.0  # the server's CPU per answered request

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
        """Every due request answered as expected, at (within 2 %) the target rate."""
        return self.errors == 0 and self.achieved_rate >= 0.98 * self.target_rate


def fixed_rate(server: Server, rate: float, seconds: float, run: int = 1) -> FixedRate:
    """rate*seconds requests of the mix to `server` on a fixed schedule, and its CPU spent."""
    if rate <= 0 or seconds <= 0:
        raise ValueError(f"rate={rate!r}, seconds={seconds!r}: both must be positive")
    due = round(rate * seconds)
    load = Load(
        server.port, f"rate{run}", CLIENTS, keepalive=True, rate=rate, total=due, users=USERS
    )
    load.timeout = 10.0
    before = server.cpu_seconds()
    with load:
        tally = load.join()
    cpu = server.cpu_seconds() - before
    ok = [o for o in tally.outcomes if o.kind == "ok"]
    result = FixedRate(rate, due, [o.latency * 1000 for o in ok], len(tally.outcomes) - len(ok))
    result.wall_seconds = max((o.end for o in tally.outcomes), default=load.started) - load.started
    result.cpu_ms_per_request = cpu * 1000 / max(result.completed, 1)
    return result
