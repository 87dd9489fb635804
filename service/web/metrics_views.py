"""The metrics endpoints: /metrics for Prometheus and /api/metrics as a JSON summary.

Both read the request counters and histograms that `service.web.metrics` records, merged across
gunicorn workers, so the two never disagree. The store-backed gauges (active users, the user
limit, the running release) are computed at scrape time, so every worker gives the same answer.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Metric, generate_latest
from prometheus_client.core import GaugeMetricFamily

from service import summary
from service.logs import utc_timestamp
from service.store import StoreError
from service.web import auth, budget, runtime
from service.web.activity import WINDOW_SECONDS
from service.web.process import peak_rss_mb, rss_mb
from service.web.runtime import Runtime

bp = Blueprint("metrics", __name__)


class ServiceCollector:
    """Gauges computed at scrape time from the store and the config."""

    def __init__(self, rt: Runtime) -> None:
        self.runtime = rt

    def collect(self) -> Iterator[Metric]:
        rt = self.runtime
        try:
            rt.activity.flush()  # this worker's waiting users count now, not in a few seconds
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


@bp.get("/metrics")
def prometheus() -> Response:
    rt = runtime.current()
    registry = CollectorRegistry()
    registry.register(_Collected(rt.metrics.families()))
    registry.register(ServiceCollector(rt))
    # CONTENT_TYPE_LATEST carries its charset already; `mimetype=` would add a second one.
    return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


@bp.get("/api/metrics")
def json_summary() -> Response:
    # Behind the token when one is set: it tells who is active and how the box is sized.
    # /metrics stays open to the publisher, which scrapes gunicorn directly (no edge route).
    auth.require_token()
    rt = runtime.current()
    config = rt.config
    api = summary.api_summary(summary.collect_routes(rt.metrics.families()))
    return jsonify(
        timestamp=utc_timestamp(),
        api=api,
        users=_users(rt),
        system={
            "memory": {"rssMb": rss_mb(), "peakRssMb": peak_rss_mb()},
            "uptimeSeconds": round(time.time() - rt.started_at, 1),
            "pid": os.getpid(),
        },
        slo=summary.slo_summary(api, config["SLO_P95_MS"], config["SLO_ERROR_RATE_PCT"]),
        sloBudget=budget.summary(current_app),
    )


def _users(rt: Runtime) -> dict[str, Any]:
    """Active users against the limit; current and peak are None when the store fails."""
    try:
        rt.activity.flush()  # this worker's waiting users count now, not in a few seconds
        active = rt.store.active_users(time.time() - WINDOW_SECONDS)
        users: dict[str, Any] = {"current": active.current, "peak": active.peak}
    except StoreError:
        users = {"current": None, "peak": None}
    limit = rt.config["USER_LIMIT"]
    current = users["current"]
    return users | {
        "limit": limit,
        "capacityUsedPct": None if current is None else round(100 * current / limit, 1),
        "windowSeconds": WINDOW_SECONDS,
    }
