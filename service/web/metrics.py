"""Prometheus metrics for every request, correct across gunicorn workers.

Under gunicorn, PROMETHEUS_MULTIPROC_DIR is set (fresh per start, by gunicorn.conf.py) before
any worker imports prometheus_client, so each worker writes its values to files there and a
scrape merges them. Routes are labelled by template (`/api/users/<userId>/mute`), never by
raw path, so a million users make one series, not a million.

Recording a request is a dictionary update in memory. In multiprocess mode every
prometheus-client sample is a locked write to the worker's file (three per request: the counter,
the histogram's sum and one bucket), so the worker adds up its requests per label set and writes
the sums into prometheus-client's values in one go (`flush`): every FLUSH_SECONDS from a
background thread, before this worker's scrape collects, and when the worker exits. A scrape
therefore sees its own worker's requests at once and the other workers' within FLUSH_SECONDS.

This module records; `service.web.metrics_views` serves /metrics and /api/metrics from it.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from service.contract import PROM_LATENCY, PROM_REQUESTS
from service.web.batching import BackgroundFlush

# Fine enough for 1 ms handlers; the SLO threshold is added to these in `Metrics`.
BASE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0)
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"
# How stale another worker's requests may be in a scrape (docs/monitoring.md says so too).
FLUSH_SECONDS = 1.0


class Metrics(BackgroundFlush[dict[tuple[str, str, int], list[float]]]):
    """The service's counters and histograms, in a registry of their own (one per app)."""

    def __init__(self, slo_p95_seconds: float, flush_seconds: float = FLUSH_SECONDS) -> None:
        super().__init__(flush_seconds, "metrics-flush")
        self.multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
        self.registry = CollectorRegistry()
        buckets = sorted({*BASE_BUCKETS, slo_p95_seconds})
        self.requests = Counter(
            PROM_REQUESTS,
            "HTTP requests served, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            PROM_LATENCY,
            "Time to serve a request, by method and route template.",
            ["method", "route"],
            buckets=buckets,
            registry=self.registry,
        )
        # The histogram's bounds, +Inf last: bisect_left finds the bucket `observe` would.
        self._bounds: list[float] = [*buckets, float("inf")]
        # (method, route, status) -> [requests in bucket 0, ..., in the +Inf bucket, seconds]:
        # what this worker served since its last flush. Bounded: methods are folded into
        # KNOWN_METHODS, routes are templates, statuses few.
        self._pending: dict[tuple[str, str, int], list[float]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request and its duration (written to the shared values by `flush`)."""
        method = method if method in KNOWN_METHODS else "OTHER"
        key = (method, route, status)
        bucket = bisect.bisect_left(self._bounds, seconds)
        with self._lock:
            sums = self._pending.get(key)
            if sums is None:
                sums = self._pending[key] = [0.0] * (len(self._bounds) + 1)
            sums[bucket] += 1
            sums[-1] += seconds
        self._added()

    def _take(self) -> dict[tuple[str, str, int], list[float]] | None:
        batch, self._pending = self._pending, {}
        return batch or None

    def _write(self, batch: dict[tuple[str, str, int], list[float]]) -> None:
        """Add what this worker served since the last flush to the exposed values."""
        for (method, route, status), sums in batch.items():
            *buckets, seconds = sums
            self.requests.labels(method, route, str(status)).inc(sum(buckets))
            _add_observations(self.latency.labels(method, route), buckets, seconds)

    def families(self) -> Iterable[Metric]:
        """Every worker's request metrics (this process's alone outside gunicorn)."""
        self.flush()  # this worker's own requests count at once
        if self.multiprocess_dir is None:
            return self.registry.collect()
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return merged.collect()


def _add_observations(histogram: Histogram, buckets: list[float], seconds: float) -> None:
    """What `histogram.observe` does for each of many observations, one write per bucket.

    prometheus-client has no public call for "n observations in this bucket"; its Histogram
    keeps one value per bucket (`_buckets`, not cumulative) and one for the sum (`_sum`), which
    `observe` increments. tests/service/test_metrics.py holds the result equal to `observe`'s.
    """
    for value, count in zip(histogram._buckets, buckets, strict=True):
        if count:
            value.inc(count)
    histogram._sum.inc(seconds)
