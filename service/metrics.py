"""Prometheus metrics for every request, correct across gunicorn workers.

Under gunicorn, PROMETHEUS_MULTIPROC_DIR is set (fresh per start, by gunicorn.conf.py) before
any worker imports prometheus_client, so each worker writes its values to files there and a
scrape merges them. Routes are labelled by template (`/api/users/<userId>/mute`), never by
raw path, so a million users make one series, not a million.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    Metric,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from service import summary
from service.activity import WINDOW_SECONDS
from service.logs import utc_timestamp
from service.process import peak_rss_mb, rss_mb
from service.store import StoreError

if TYPE_CHECKING:
    from service.runtime import Runtime

# Fine enough for 1 ms handlers; the SLO threshold is added to these in `Metrics`.
BASE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0)
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"

bp = Blueprint("metrics", __name__)


class Metrics:
    """The service's counters and histograms, in a registry of their own (one per app)."""

    def __init__(self, slo_p95_seconds: float) -> None:
        self.multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
        self.registry = CollectorRegistry()
        buckets = sorted({*BASE_BUCKETS, slo_p95_seconds})
        self.requests = Counter(
            summary.REQUESTS,
            "HTTP requests served, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            summary.LATENCY,
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


class ServiceCollector:
    """Gauges computed at scrape time from the store, so every worker gives the same answer."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        rt = self.runtime
        try:
            active = rt.store.active_users(time.time() - WINDOW_SECONDS)
        except StoreError:
            active = None
        if active is not None:
            yield GaugeMetricFamily(
                "onebox_active_users", "Distinct users seen in the last 5 minutes.", active.current
            )
            yield GaugeMetricFamily(
                "onebox_active_users_peak", "Most active users seen at once.", active.peak
            )
        yield GaugeMetricFamily(
            "onebox_user_limit", "Users the box is sized for.", rt.config["USER_LIMIT"]
        )
        info = GaugeMetricFamily(
            "onebox_build_info", "The running release.", labels=["version", "environment"]
        )
        info.add_metric([rt.config["VERSION"], rt.config["ENV"]], 1)
        yield info


class _Collected:
    """Adapts an iterable of metric families to the registry's collector protocol."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self._families


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["onebox"]
    return runtime


@bp.get("/metrics")
def prometheus() -> Response:
    rt = _runtime()
    registry = CollectorRegistry()
    registry.register(_Collected(rt.metrics.families()))
    registry.register(ServiceCollector(rt))
    # CONTENT_TYPE_LATEST carries its charset already; `mimetype=` would add a second one.
    return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


@bp.get("/api/metrics")
def json_summary() -> Response:
    rt = _runtime()
    config = rt.config
    api = summary.api_summary(summary.collect_routes(rt.metrics.families()))
    try:
        active = rt.store.active_users(time.time() - WINDOW_SECONDS)
        users: dict[str, Any] = {"current": active.current, "peak": active.peak}
    except StoreError:
        users = {"current": None, "peak": None}
    limit = config["USER_LIMIT"]
    current = users["current"]
    users |= {
        "limit": limit,
        "capacityUsedPct": None if current is None else round(100 * current / limit, 1),
        "windowSeconds": WINDOW_SECONDS,
    }
    return jsonify(
        timestamp=utc_timestamp(),
        api=api,
        users=users,
        system={
            "memory": {"rssMb": rss_mb(), "peakRssMb": peak_rss_mb()},
            "uptimeSeconds": round(time.time() - rt.started_at, 1),
            "pid": os.getpid(),
        },
        slo=summary.slo_summary(api, config["SLO_P95_MS"], config["SLO_ERROR_RATE_PCT"]),
    )
