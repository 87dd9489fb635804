"""The circuit breaker over a fake clock: opens after failures, backs off exponentially up to a
cap, probes once when half-open, closes on success, and logs every state change."""

from __future__ import annotations

from typing import Any

import pytest

from service.publish import breaker as module
from service.publish.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(
        module,
        "log_event",
        lambda event, level=0, **fields: seen.append({"event": event, **fields}),
    )
    return seen


@pytest.fixture
def clock() -> Clock:
    return Clock()


def fail(b: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        assert b.allow()
        b.failure("EndpointConnectionError")


def test_failures_below_the_threshold_keep_the_circuit_closed(
    clock: Clock, events: list[dict[str, Any]]
) -> None:
    b = CircuitBreaker("cw", threshold=3, clock=clock)
    fail(b, 2)
    b.success()
    fail(b, 2)
    assert b.state == CLOSED
    assert events == []


def test_the_circuit_opens_refuses_calls_then_lets_one_probe_through(
    clock: Clock, events: list[dict[str, Any]]
) -> None:
    b = CircuitBreaker("cw", threshold=3, base_delay=60, clock=clock)
    fail(b, 3)
    assert b.state == OPEN
    clock.now += 59
    assert not b.allow()
    clock.now += 1
    assert b.allow()
    assert b.state == HALF_OPEN
    b.success()
    assert b.state == CLOSED
    assert [(e["state"], e["previous"]) for e in events] == [
        (OPEN, CLOSED),
        (HALF_OPEN, OPEN),
        (CLOSED, HALF_OPEN),
    ]
    assert events[0]["event"] == "circuit_state"
    assert events[0]["retryInSeconds"] == 60
    assert events[0]["error"] == "EndpointConnectionError"


def test_each_failed_probe_doubles_the_wait_up_to_the_cap(
    clock: Clock, events: list[dict[str, Any]]
) -> None:
    b = CircuitBreaker("cw", threshold=3, base_delay=60, max_delay=300, clock=clock)
    fail(b, 3)
    waits = []
    for _ in range(5):
        waits.append(b.delay)
        clock.now += b.delay
        fail(b, 1)  # the half-open probe fails
    assert waits == [60, 120, 240, 300, 300]
    assert b.state == OPEN


def test_a_success_after_an_outage_resets_the_backoff(clock: Clock, events: list[Any]) -> None:
    b = CircuitBreaker("cw", threshold=1, base_delay=10, clock=clock)
    fail(b, 1)
    clock.now += 10
    fail(b, 1)
    clock.now += 20
    assert b.allow()
    b.success()
    fail(b, 1)
    assert b.delay == 10


@pytest.mark.parametrize(
    ("threshold", "base", "cap"), [(0, 60.0, 900.0), (3, 0.0, 900.0), (3, 60.0, 30.0)]
)
def test_nonsense_settings_are_refused_by_name(threshold: int, base: float, cap: float) -> None:
    with pytest.raises(ValueError, match="breaker 'cw'"):
        CircuitBreaker("cw", threshold=threshold, base_delay=base, max_delay=cap)
