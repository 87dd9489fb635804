"""From two scrapes of the service's /metrics to the figures of one interval.

Counters only grow, so an interval's requests, 5xx errors and latency histogram are the
difference of two scrapes. A counter that went down means the service restarted (gunicorn's
multiprocess files start fresh), and then the new totals are the interval's.

On the box nginx does not serve /metrics; the publisher reads gunicorn's unix socket, named in
APP_METRICS_URL as `unix:<socket path>:<request path>`, e.g.
`unix:/run/onebox/gunicorn.sock:/metrics`. An http:// URL is fetched as usual.
"""

from __future__ import annotations

import http.client
import os
import socket
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from service.contract import PROM_LATENCY, PROM_REQUESTS
from service.summary import histogram_quantile

ACTIVE_USERS = "onebox_active_users"


@dataclass(frozen=True)
class Totals:
    """Cumulative figures of one scrape, summed over every route and method."""

    requests: float = 0.0
    errors_5xx: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)  # upper bound -> cumulative
    active_users: float | None = None  # None: the store did not answer


@dataclass(frozen=True)
class Interval:
    """What happened between two scrapes."""

    requests: float
    errors_5xx: float
    p95_ms: float | None  # None: no request in the interval


def fetch(url: str, timeout: float = 2.0) -> str:
    """The body of `url`: the service's Prometheus endpoint on loopback or its unix socket."""
    if url.startswith(UNIX):
        return _fetch_unix(*unix_target(url), timeout=timeout)
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (configured)
        body: bytes = response.read()
    return body.decode("utf-8")


UNIX = "unix:"


def unix_target(url: str) -> tuple[str, str]:
    """(socket path, request path) of `unix:<socket>:<path>`; ValueError names a bad URL."""
    socket_path, sep, path = url.removeprefix(UNIX).rpartition(":")
    if not sep or not socket_path.startswith("/") or not path.startswith("/"):
        raise ValueError(f"APP_METRICS_URL {url!r} is not unix:<socket path>:<request path>")
    return socket_path, path


class _UnixConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a unix stream socket (gunicorn's listening socket)."""

    def __init__(self, socket_path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def unix_request(
    socket_path: str | os.PathLike[str],
    method: str,
    path: str,
    body: bytes | None = None,
    timeout: float = 5.0,
) -> tuple[int, bytes]:
    """Send one HTTP request to a unix socket (gunicorn's); its status and body.

    OSError when nothing listens there (refused, or no socket file) or the answer breaks off.
    """
    connection = _UnixConnection(str(socket_path), timeout)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    except http.client.HTTPException as exc:  # not HTTP: the caller's OSError, named
        raise OSError(f"unix:{socket_path}:{path}: {exc!r}") from None
    finally:
        connection.close()


def _fetch_unix(socket_path: str, path: str, timeout: float) -> str:
    status, body = unix_request(socket_path, "GET", path, timeout=timeout)
    if status != 200:
        raise OSError(f"unix:{socket_path}:{path} answered {status}")
    return body.decode("utf-8")


def parse(text: str) -> Totals:
    """Fold Prometheus exposition text into totals; ValueError when it is not that format."""
    requests = errors = 0.0
    buckets: dict[float, float] = defaultdict(float)
    active: float | None = None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == f"{PROM_REQUESTS}_total":
                requests += sample.value
                if sample.labels.get("status", "").startswith("5"):
                    errors += sample.value
            elif sample.name == f"{PROM_LATENCY}_bucket":
                buckets[float(sample.labels["le"])] += sample.value
            elif sample.name == ACTIVE_USERS:
                active = sample.value
    return Totals(requests, errors, dict(buckets), active)


def interval(before: Totals, after: Totals) -> Interval:
    """The interval between two scrapes (after a restart, `after` alone)."""
    if after.requests < before.requests:
        before = Totals()
    buckets = [(le, count - before.buckets.get(le, 0.0)) for le, count in after.buckets.items()]
    p95 = histogram_quantile(0.95, buckets) if buckets else None
    return Interval(
        requests=after.requests - before.requests,
        errors_5xx=after.errors_5xx - before.errors_5xx,
        p95_ms=None if p95 is None else round(p95 * 1000, 3),
    )
