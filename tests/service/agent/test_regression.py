"""What counts as a regression: windows from /metrics readings, limits, the verdict (pure),
and the watch when /metrics falls silent."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from service.agent import watch
from service.agent.regression import Limits, Window, limits, measure, parse, regression
from service.agent.settings import AgentSettings, WatchSettings
from service.config import defaults
from service.contract import PROM_LATENCY, PROM_REQUESTS

SETTINGS = replace(WatchSettings.from_config(defaults()), seconds=300.0)


def reading(ok: int, errors: int, fast: int, slow: int, own: int = 0) -> str:
    """A /metrics text: `fast` answers under 10 ms and `slow` ones under 1 s, on one route."""
    route = 'method="GET",route="/api/users/<userId>/state"'
    lines = [
        f"# TYPE {PROM_REQUESTS} counter",
        f'{PROM_REQUESTS}_total{{{route},status="200"}} {ok}',
        f'{PROM_REQUESTS}_total{{{route},status="500"}} {errors}',
        f'{PROM_REQUESTS}_total{{method="GET",route="/metrics",status="200"}} {own}',
        f"# TYPE {PROM_LATENCY} histogram",
        f'{PROM_LATENCY}_bucket{{{route},le="0.01"}} {fast}',
        f'{PROM_LATENCY}_bucket{{{route},le="1.0"}} {fast + slow}',
        f'{PROM_LATENCY}_bucket{{{route},le="+Inf"}} {fast + slow}',
        f"{PROM_LATENCY}_count{{{route}}} {fast + slow}",
        f"{PROM_LATENCY}_sum{{{route}}} 1.0",
    ]
    return "\n".join(lines) + "\n"


def test_a_window_is_what_the_counters_grew_by_without_the_agents_own_readings() -> None:
    before = parse(reading(ok=1000, errors=5, fast=1005, slow=0, own=40))
    after = parse(reading(ok=1090, errors=15, fast=1105, slow=0, own=70))

    window = measure(before, after, 60.0)

    assert (window.requests, window.errors) == (100, 10)
    assert window.error_pct == 10.0
    assert window.p95_ms is not None and window.p95_ms <= 10.0


def test_a_counter_that_shrank_was_reset_and_counts_from_zero() -> None:
    # A restart (not a HUP) empties the multiprocess directory between two readings.
    before = parse(reading(ok=5000, errors=0, fast=5000, slow=0))
    after = parse(reading(ok=80, errors=20, fast=100, slow=0))

    assert measure(before, after, 60.0).requests == 100
    assert measure(before, after, 60.0).errors == 20


def test_the_limits_are_the_objectives_unless_the_previous_release_did_worse() -> None:
    quiet = Window(60.0, 500, 0, 4.0)
    noisy = Window(60.0, 500, 25, 800.0)  # 5 % of 5xx, p95 800 ms

    assert limits(None, SETTINGS) == Limits(1.0, 1000.0, SETTINGS.min_requests)
    assert limits(quiet, SETTINGS) == Limits(1.0, 1000.0, SETTINGS.min_requests)
    assert limits(noisy, SETTINGS) == Limits(10.0, 1600.0, SETTINGS.min_requests)


def test_a_previous_release_with_too_few_requests_is_not_a_baseline() -> None:
    few = Window(60.0, SETTINGS.min_requests - 1, 50, 5000.0)

    assert limits(few, SETTINGS) == limits(None, SETTINGS)


@pytest.mark.parametrize(
    ("window", "verdict"),
    [
        (Window(30.0, 200, 1, 50.0), None),  # 0.5 % of 5xx, under the objective's 1 %
        (Window(30.0, 200, 4, 50.0), "5xx rate 2.00 % is above 1.00 %"),
        (Window(30.0, 200, 0, 1500.0), "p95 1500.0 ms is above 1000.0 ms"),
        (Window(30.0, 99, 99, 5000.0), None),  # too few requests to judge
    ],
)
def test_a_regression_is_a_rate_or_a_p95_above_its_limit_with_enough_requests(
    window: Window, verdict: str | None
) -> None:
    assert regression(window, limits(None, SETTINGS)) == verdict


def test_a_release_whose_metrics_stop_answering_during_the_watch_regressed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    readings = iter([parse(reading(ok=10, errors=0, fast=10, slow=0))])
    monkeypatch.setattr(watch, "read", lambda url: next(readings, None))
    fast = replace(SETTINGS, seconds=5.0, interval=0.01)
    settings = AgentSettings(
        "p", "b", tmp_path, "http://127.0.0.1:9", ("true",), 1.0, 2, watch=fast
    )

    assert watch.watch_release(settings, "v2", baseline=None) is True
