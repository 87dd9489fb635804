"""From the service's Prometheus text to one interval's requests, 5xx errors, p95 and users."""

from __future__ import annotations

import http.server
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

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


def test_a_unix_url_names_the_socket_and_the_request_path() -> None:
    target = scrape.unix_target("unix:/run/onebox/gunicorn.sock:/metrics")
    assert target == ("/run/onebox/gunicorn.sock", "/metrics")


@pytest.mark.parametrize(
    "url", ["unix:/run/onebox/gunicorn.sock", "unix:relative.sock:/metrics", "unix::/metrics"]
)
def test_a_unix_url_without_an_absolute_socket_and_path_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="APP_METRICS_URL"):
        scrape.unix_target(url)


class _Metrics(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = TEXT.format(ok=3, bad=1, fast=2).encode() if self.path == "/metrics" else b""
        self.send_response(200 if body else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None

    def address_string(self) -> str:
        return "unix"


@pytest.fixture
def unix_metrics(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "gunicorn.sock"
    server = socketserver.UnixStreamServer(str(path), _Metrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield path
    server.shutdown()
    server.server_close()


def test_the_publisher_scrapes_a_unix_socket(unix_metrics: Path) -> None:
    parsed = scrape.parse(scrape.fetch(f"unix:{unix_metrics}:/metrics"))
    assert (parsed.requests, parsed.errors_5xx, parsed.active_users) == (3 + 1 + 7, 1, 4)


def test_a_unix_socket_that_answers_no_metrics_is_an_os_error(unix_metrics: Path) -> None:
    with pytest.raises(OSError, match="answered 404"):
        scrape.fetch(f"unix:{unix_metrics}:/elsewhere")
    with pytest.raises(OSError):
        scrape.fetch(f"unix:{unix_metrics.parent / 'absent.sock'}:/metrics")
