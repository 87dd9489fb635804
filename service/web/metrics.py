"""Prometheus metrics for every request, correct across gunicorn workers.

Under gunicorn, PROMETHEUS_MULTIPROC_DIR is set (fresh per start, by gunicorn.conf.py) before
any worker imports prometheus_client, so each worker writes its values to files there and a
scrape merges them. Routes are labelled by template (`/api/users/<userId>/mute`), never by
raw path, so a million users make one series, not a million.

This module records; `service.web.metrics_views` serves /metrics and /api/metrics from it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from service.contract import PROM_LATENCY, PROM_REQUESTS

# Fine enough for 1 ms handlers; the SLO threshold is added to these in `Metrics`.
BASE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0)
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"


class Metrics:
    """The service's counters and histograms, in a registry of their own (one per app)."""

    def __init__(self, slo_p95_seconds: float) -> None:
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
        # (method, route, status) -> its counter and histogram children. `labels()` validates,
        # stringifies and locks on every call; the children never change, so look them up once.
        # Bounded: methods are folded into KNOWN_METHODS, routes are templates, statuses few.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in KNOWN_METHODS else "OTHER"
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._children[key] = children
        counter, histogram = children
        counter.inc()
        histogram.observe(seconds)

    def families(self) -> Iterable[Metric]:
        """Every worker's request metrics (this process's alone outside gunicorn)."""
        if self.multiprocess_dir is None:
            return self.registry.collect()
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return merged.collect()
