"""Is a new release clearly worse than the one before? Its 5xx rate and p95 against the
previous release's, each measured over a window as the difference of two /metrics readings.

The request counter and the latency histogram are cumulative across workers: under gunicorn's
multiprocess mode every worker's values live in files of PROMETHEUS_MULTIPROC_DIR, which
gunicorn.conf.py empties only when the master starts. A HUP keeps them (the retired workers'
counts still sum in), a restart empties them. So a window is the growth of each series between
two readings, and a series that shrank was reset in between: its growth is its new value, as
Prometheus's increase() counts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from service import summary
from service.agent.settings import WatchSettings

# The agent's own readings during the watch are not the release's traffic.
OWN_ROUTES = frozenset({"/metrics"})

Reading = Mapping[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Reading:
    """One /metrics answer as {(sample name, sorted labels): value}."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def growth(before: Reading, after: Reading) -> Metric:
    """What each series of `after` added since `before` (a reset series: all of it)."""
    window = Metric("window", "growth between two readings", "untyped")
    for (name, labels), value in after.items():
        old = before.get((name, labels), 0.0)
        window.samples.append(Sample(name, dict(labels), value - old if value >= old else value))
    return window


@dataclass(frozen=True)
class Window:
    """The requests of one window: how many, how many answered 5xx, and their p95."""

    seconds: float
    requests: int
    errors: int
    p95_ms: float | None

    @property
    def error_pct(self) -> float:
        return 100 * self.errors / self.requests if self.requests else 0.0

    def fields(self) -> dict[str, Any]:
        """The window as an event's fields."""
        return {
            "seconds": round(self.seconds, 1),
            "requests": self.requests,
            "errors": self.errors,
            "errorRatePct": round(self.error_pct, 2),
            "p95Ms": None if self.p95_ms is None else round(self.p95_ms, 1),
        }


def measure(before: Reading, after: Reading, seconds: float) -> Window:
    """The window between two readings, every route but the agent's own."""
    routes = summary.collect_routes([growth(before, after)])
    merged: dict[float, float] = {}
    requests = errors = 0.0
    for route, stats in routes.items():
        if route in OWN_ROUTES:
            continue
        requests += stats.count
        errors += stats.server_errors
        for bound, count in stats.buckets.items():
            merged[bound] = merged.get(bound, 0.0) + count
    p95 = summary.histogram_quantile(0.95, list(merged.items()))
    return Window(seconds, round(requests), round(errors), None if p95 is None else p95 * 1000)


@dataclass(frozen=True)
class Limits:
    """Above either one, with enough requests, a window is a regression."""

    error_pct: float
    p95_ms: float
    min_requests: int

    def fields(self) -> dict[str, Any]:
        return {
            "maxErrorRatePct": round(self.error_pct, 2),
            "maxP95Ms": round(self.p95_ms, 1),
            "minRequests": self.min_requests,
        }


def limits(baseline: Window | None, settings: WatchSettings) -> Limits:
    """The SLO's objectives, or `factor` times the previous release's figures when higher;
    a baseline with too few requests is not used."""
    error_pct, p95_ms = settings.slo_error_pct, settings.slo_p95_ms
    if baseline is not None and baseline.requests >= settings.min_requests:
        error_pct = max(error_pct, settings.factor * baseline.error_pct)
        if baseline.p95_ms is not None:
            p95_ms = max(p95_ms, settings.factor * baseline.p95_ms)
    return Limits(error_pct, p95_ms, settings.min_requests)


def regression(window: Window, bounds: Limits) -> str | None:
    """Why `window` is a clear regression, or None when it is not (or cannot be judged)."""
    if window.requests < bounds.min_requests:
        return None
    if window.error_pct > bounds.error_pct:
        return f"5xx rate {window.error_pct:.2f} % is above {bounds.error_pct:.2f} %"
    if window.p95_ms is not None and window.p95_ms > bounds.p95_ms:
        return f"p95 {window.p95_ms:.1f} ms is above {bounds.p95_ms:.1f} ms"
    return None
