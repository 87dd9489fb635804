"""From the service's Prometheus text to one interval's requests, 5xx errors, p95 and users."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from service.publish import scrape

TEXT = """
# TYPE onebox_http_requests counter
onebox_http_requests_total{{method="GET",route="/api/health",status="200"}} {ok}
onebox_http_requests_total{{method="POST",route="/api/users/<userId>/mute",status="503"}} {bad}
onebox_http_requests_total{{method="GET",route="<unmatched>",status="404"}} 7
# TYPE onebox_http_request_duration_seconds histogram
onebox_http_request_duration_seconds_bucket{{method="GET",route="/api/health",le="0.1"}} {fast}
onebox_http_request_duration_seconds_bucket{{method="GET",route="/api/health",le="1.0"}} {ok}
onebox_http_request_duration_seconds_bucket{{method="GET",route="/api/health",le="+Inf"}} {ok}
onebox_http_request_duration_seconds_count{{method="GET",route="/api/health"}} {ok}
onebox_http_request_duration_seconds_sum{{method="GET",route="/api/health"}} 1.0
# TYPE onebox_active_users gauge
onebox_active_users 4
"""


def totals(ok: int, bad: int, fast: int) -> scrape.Totals:
    return scrape.parse(TEXT.format(ok=ok, bad=bad, fast=fast))


def test_the_services_own_metrics_endpoint_parses_into_totals(client: FlaskClient) -> None:
    for _ in range(3):
        client.get("/api/health")
    client.get("/no/such/page")
    parsed = scrape.parse(client.get("/metrics").get_data(as_text=True))
    assert parsed.requests >= 4
    assert parsed.errors_5xx == 0
    assert parsed.buckets[float("inf")] >= 4
    assert parsed.active_users == 0


def test_totals_count_every_route_and_only_5xx_as_errors() -> None:
    parsed = totals(ok=100, bad=3, fast=90)
    assert parsed.requests == 110
    assert parsed.errors_5xx == 3
    assert parsed.active_users == 4


def test_an_interval_is_the_difference_of_two_scrapes_with_p95_from_bucket_deltas() -> None:
    interval = scrape.interval(totals(ok=100, bad=3, fast=100), totals(ok=200, bad=5, fast=100))
    assert interval.requests == 102
    assert interval.errors_5xx == 2
    # all 100 new requests took 0.1-1.0 s: p95 interpolates to 0.1 + 0.9 * 0.95
    assert interval.p95_ms == pytest.approx(955.0)


def test_a_counter_that_went_down_means_the_service_restarted() -> None:
    interval = scrape.interval(totals(ok=500, bad=9, fast=500), totals(ok=10, bad=1, fast=10))
    assert interval.requests == 18
    assert interval.errors_5xx == 1


def test_an_interval_without_requests_has_no_p95() -> None:
    same = totals(ok=10, bad=0, fast=10)
    assert scrape.interval(same, same).p95_ms is None
    assert scrape.interval(scrape.Totals(), scrape.Totals()).p95_ms is None


def test_text_that_is_not_prometheus_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        scrape.parse("<html>502 Bad Gateway</html>\n")
