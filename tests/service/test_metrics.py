"""Prometheus metrics and the JSON summary computed from the same histograms."""

from __future__ import annotations

import math
import struct
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import CollectorRegistry, Histogram, Metric, values
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from service.contract import PROM_LATENCY, PROM_REQUESTS
from service.store import StoreError
from service.summary import histogram_quantile
from service.web.metrics import BASE_BUCKETS, Metrics
from tests.support import ROOT, wait_until


def scrape(client: FlaskClient) -> dict[str, list]:  # type: ignore[type-arg]
    text = client.get("/metrics").get_data(as_text=True)
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


@pytest.mark.parametrize(
    ("q", "buckets", "expected"),
    [
        (0.5, [(0.1, 0), (0.2, 10), (math.inf, 10)], 0.15),
        (0.95, [(0.001, 100), (math.inf, 100)], 0.00095),
        (0.99, [(1.0, 50), (math.inf, 100)], 1.0),  # rank in +Inf: the highest finite bound
        (0.5, [(0.1, 0), (math.inf, 0)], None),  # no observation
    ],
)
def test_histogram_quantile_interpolates_like_prometheus(
    q: float, buckets: list[tuple[float, float]], expected: float | None
) -> None:
    result = histogram_quantile(q, buckets)
    assert result == (None if expected is None else pytest.approx(expected))


def test_buckets_resolve_a_millisecond_and_include_the_slo_threshold(app: Flask) -> None:
    assert BASE_BUCKETS[0] <= 0.001
    app.test_client().get("/api/health/live")
    samples = scrape(app.test_client())["onebox_http_request_duration_seconds"]
    bounds = {s.labels["le"] for s in samples if s.name.endswith("_bucket")}
    assert "1.0" in bounds  # the default 1000 ms p95 objective
    from service.web import create_app

    other = create_app({"DATABASE": app.config["DATABASE"], "SLO_P95_MS": 400})
    other.test_client().get("/api/health/live")
    samples = scrape(other.test_client())["onebox_http_request_duration_seconds"]
    assert "0.4" in {s.labels["le"] for s in samples if s.name.endswith("_bucket")}
    other.extensions["onebox"].store.close()


def test_routes_are_labelled_by_template_never_by_raw_path(client: FlaskClient) -> None:
    for n in range(5):
        client.patch(f"/api/users/user-{n}/mute", json={"isMuted": True})
    client.get("/no/such/page")
    samples = scrape(client)["onebox_http_requests"]
    routes = {s.labels["route"] for s in samples}
    assert "/api/users/<userId>/mute" in routes
    assert "<unmatched>" in routes
    assert not any("user-" in route for route in routes)
    mute = [s for s in samples if s.labels["route"] == "/api/users/<userId>/mute"]
    assert sum(s.value for s in mute) == 5


def test_json_summary_has_the_documented_structure_with_units_in_keys(client: FlaskClient) -> None:
    client.patch("/api/users/a/mute", json={"isMuted": True})
    client.patch("/api/users/b/mute", json={"isMuted": "bad"})
    body = client.get("/api/metrics").get_json()
    api = body["api"]
    assert api["totalRequests"] == 2  # this request is counted after it answers
    assert api["clientErrorCount"] == 1 and api["errorCount"] == 0
    assert api["errorRatePct"] == 0.0
    assert set(api["responseTime"]) >= {"p50Ms", "p95Ms", "p99Ms"}
    assert all(isinstance(v, float) for v in api["responseTime"].values())
    endpoint = api["byEndpoint"]["/api/users/<userId>/mute"]
    assert endpoint["count"] == 2 and isinstance(endpoint["avgDurationMs"], float)
    users = body["users"]
    assert users["current"] == 1 and users["peak"] == 1 and users["limit"] == 10
    assert users["capacityUsedPct"] == 10.0
    assert isinstance(body["system"]["memory"]["rssMb"], float)
    assert body["slo"]["responseTimeMet"] is True and body["slo"]["errorRateMet"] is True


def test_a_server_error_breaks_the_error_slo(app: Flask) -> None:
    def explode(*args: object) -> None:
        raise RuntimeError("boom")

    app.extensions["onebox"].store.get_state = explode
    client = app.test_client()
    client.get("/api/users/x/state")
    body = client.get("/api/metrics").get_json()
    assert body["api"]["errorCount"] == 1 and body["api"]["errorRatePct"] == 100.0
    assert body["slo"]["errorRateMet"] is False


def test_prometheus_exposes_users_and_build_info(client: FlaskClient) -> None:
    client.get("/api/users/u/state")  # a 404 is not activity
    client.patch("/api/users/u/mute", json={"isMuted": False})
    families = scrape(client)
    assert families["onebox_active_users"][0].value == 1
    assert families["onebox_user_limit"][0].value == 10
    (info,) = families["onebox_build_info"]
    assert info.labels == {"version": "dev", "environment": "test"}


def test_a_failing_store_leaves_the_user_counts_out_but_both_endpoints_answer(app: Flask) -> None:
    def fail(*args: object) -> None:
        raise StoreError("database is locked")

    app.extensions["onebox"].store.active_users = fail
    client = app.test_client()
    users = client.get("/api/metrics").get_json()["users"]
    assert users["current"] is None and users["peak"] is None and users["capacityUsedPct"] is None
    assert users["limit"] == 10
    families = scrape(client)
    assert "onebox_active_users" not in families
    assert families["onebox_user_limit"][0].value == 10


def test_recording_metrics_needs_neither_flask_nor_the_app() -> None:
    # The instrumentation is imported by the app's runtime; it must not import the app back.
    loaded = "{'flask', 'service.web.runtime'} & set(sys.modules)"
    code = f"import sys, service.web.metrics; print({loaded})"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "set()"


def _histogram(families: Iterable[Metric]) -> dict[tuple[str, str], float]:
    """A latency histogram's bucket, count and sum samples, by (sample name, le)."""
    (family,) = [f for f in families if f.name == PROM_LATENCY]
    return {
        (s.name, s.labels.get("le", "")): s.value
        for s in family.samples
        if not s.name.endswith("_created")
    }


def test_requests_counted_in_memory_expose_what_one_observe_each_would() -> None:
    metrics = Metrics(slo_p95_seconds=1.0)
    reference = Histogram(PROM_LATENCY, "", ["method", "route"], buckets=metrics._bounds[:-1],
                          registry=CollectorRegistry())  # fmt: skip
    # On a bound, between bounds, below the first, above the last finite one.
    durations = [0.0, 0.0005, 0.001, 0.0011, 0.3, 1.0, 1.0, 9.9, 10.0, 42.0]
    for seconds in durations:
        metrics.observe("GET", "/api/users/<userId>/state", 200, seconds)
        reference.labels("GET", "/api/users/<userId>/state").observe(seconds)
    ours, expected = _histogram(metrics.families()), _histogram(reference.collect())
    assert ours.pop((f"{PROM_LATENCY}_sum", "")) == pytest.approx(sum(durations))
    assert ours == {k: v for k, v in expected.items() if not k[0].endswith("_sum")}
    requests = {f.name: f for f in metrics.families()}[PROM_REQUESTS]
    assert [s.value for s in requests.samples if s.name.endswith("_total")] == [len(durations)]


@pytest.fixture
def multiprocess(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], float]:
    """Values in files under a fresh PROMETHEUS_MULTIPROC_DIR, as under gunicorn; returns a
    reader of the request count the files hold (what another worker's scrape would sum)."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue())

    def files_count() -> float:
        try:
            collected = MultiProcessCollector(None, path=str(tmp_path)).collect()  # type: ignore[no-untyped-call]
        except struct.error:  # a file the flushing thread has created but not yet sized
            return 0
        return sum(
            s.value
            for family in collected
            if family.name == PROM_REQUESTS
            for s in family.samples
            if s.name.endswith("_total")
        )

    return files_count


def test_a_workers_requests_reach_the_shared_files_without_a_scrape(
    multiprocess: Callable[[], float],
) -> None:
    metrics = Metrics(slo_p95_seconds=1.0, flush_seconds=0.05)
    for _ in range(3):
        metrics.observe("PATCH", "/api/users/<userId>/mute", 200, 0.002)
    wait_until(lambda: multiprocess() == 3, timeout=5, what="the background flush")
    metrics.close()


def test_a_worker_writes_its_last_requests_when_it_closes(
    multiprocess: Callable[[], float],
) -> None:
    metrics = Metrics(slo_p95_seconds=1.0, flush_seconds=3600)
    metrics.observe("GET", "/api/users/<userId>/state", 200, 0.002)
    metrics.observe("GET", "/api/users/<userId>/state", 404, 0.002)
    assert multiprocess() == 0  # waiting in memory
    metrics.close()
    assert multiprocess() == 2
