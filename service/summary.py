"""Pure arithmetic behind /api/metrics: quantiles and rates from Prometheus histogram samples.

The JSON summary is computed from the same counters and histograms that /metrics exposes, so
under gunicorn it counts every worker's requests, and the two endpoints never disagree.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from prometheus_client import Metric

from service.contract import PROM_LATENCY, PROM_REQUESTS


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """The q-quantile of a cumulative histogram, interpolated as Prometheus does.

    `buckets` are (upper bound, cumulative count) pairs and must include +Inf. Returns None
    when there is no observation; a rank in the +Inf bucket returns the highest finite bound.
    """
    ordered = sorted(buckets)
    total = ordered[-1][1] if ordered else 0.0
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for upper, count in ordered:
        if count >= rank:
            if math.isinf(upper):
                return lower
            if count == below:
                return upper
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = upper, count
    return lower


@dataclass
class RouteStats:
    count: float = 0.0
    server_errors: float = 0.0
    client_errors: float = 0.0
    seconds: float = 0.0
    buckets: dict[float, float] = field(default_factory=lambda: defaultdict(float))


def collect_routes(families: Iterable[Metric]) -> dict[str, RouteStats]:
    """Fold request counters and latency histograms into per-route totals (all methods)."""
    routes: dict[str, RouteStats] = defaultdict(RouteStats)
    for family in families:
        for sample in family.samples:
            route = sample.labels.get("route")
            if route is None:
                continue
            stats = routes[route]
            if sample.name == f"{PROM_REQUESTS}_total":
                status = int(sample.labels.get("status", "0"))
                stats.count += sample.value
                stats.server_errors += sample.value if status >= 500 else 0
                stats.client_errors += sample.value if 400 <= status < 500 else 0
            elif sample.name == f"{PROM_LATENCY}_bucket":
                stats.buckets[float(sample.labels["le"])] += sample.value
            elif sample.name == f"{PROM_LATENCY}_sum":
                stats.seconds += sample.value
    return dict(routes)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def _pct(part: float, whole: float) -> float:
    return round(100 * part / whole, 2) if whole else 0.0


def api_summary(routes: dict[str, RouteStats]) -> dict[str, object]:
    """The `api` section of /api/metrics."""
    total = RouteStats()
    for stats in routes.values():
        total.count += stats.count
        total.server_errors += stats.server_errors
        total.client_errors += stats.client_errors
        total.seconds += stats.seconds
        for bound, count in stats.buckets.items():
            total.buckets[bound] += count
    merged = list(total.buckets.items())
    return {
        "totalRequests": int(total.count),
        "errorCount": int(total.server_errors),
        "errorRatePct": _pct(total.server_errors, total.count),
        "clientErrorCount": int(total.client_errors),
        "clientErrorRatePct": _pct(total.client_errors, total.count),
        "responseTime": {
            "p50Ms": _ms(histogram_quantile(0.50, merged)),
            "p95Ms": _ms(histogram_quantile(0.95, merged)),
            "p99Ms": _ms(histogram_quantile(0.99, merged)),
            "avgMs": _ms(total.seconds / total.count) if total.count else None,
        },
        "byEndpoint": {
            route: {
                "count": int(stats.count),
                "avgDurationMs": _ms(stats.seconds / stats.count) if stats.count else None,
                "p95Ms": _ms(histogram_quantile(0.95, list(stats.buckets.items()))),
                "errorRatePct": _pct(stats.server_errors, stats.count),
            }
            for route, stats in sorted(routes.items())
        },
    }


def slo_summary(
    api: dict[str, object], p95_target_ms: float, error_target_pct: float
) -> dict[str, object]:
    """Whether the latency and error objectives hold (they hold trivially with no traffic)."""
    response_time = api["responseTime"]
    assert isinstance(response_time, dict)
    p95 = response_time["p95Ms"]
    error_rate = api["errorRatePct"]
    assert isinstance(error_rate, float)
    return {
        "responseTimeMet": p95 is None or p95 <= p95_target_ms,
        "errorRateMet": error_rate <= error_target_pct,
        "p95TargetMs": p95_target_ms,
        "errorRateTargetPct": error_target_pct,
    }
