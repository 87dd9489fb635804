"""A circuit breaker for CloudWatch: stop calling a failing endpoint, then probe it with backoff.

closed: every call goes through; `threshold` failures in a row open the circuit.
open: calls are refused until the delay has passed (base * 2^(opens-1), capped), then
half-open: one call goes through; success closes the circuit, failure opens it for longer.
Each state change is logged as one JSON event line (event=circuit_state).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from service.logs import log_event

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    """Decides whether to call now; told the outcome of each call it allowed."""

    def __init__(
        self,
        name: str,
        threshold: int = 3,
        base_delay: float = 60.0,
        max_delay: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if threshold < 1 or base_delay <= 0 or max_delay < base_delay:
            raise ValueError(
                f"breaker {name!r}: threshold={threshold!r}, base_delay={base_delay!r},"
                f" max_delay={max_delay!r} must be >= 1, > 0 and >= base_delay"
            )
        self.name, self.threshold = name, threshold
        self.base_delay, self.max_delay = base_delay, max_delay
        self.clock = clock
        self.state = CLOSED
        self.failures = 0  # in a row, while closed
        self.opens = 0  # consecutive openings without a success: the backoff exponent
        self.retry_at = 0.0

    @property
    def delay(self) -> float:
        """How long the circuit stays open after the current opening."""
        return min(self.max_delay, self.base_delay * 2.0 ** max(self.opens - 1, 0))

    def allow(self) -> bool:
        """Whether a call may go through now (moves open to half-open when the time is due)."""
        if self.state == OPEN and self.clock() >= self.retry_at:
            self._move(HALF_OPEN)
        return self.state != OPEN

    def success(self) -> None:
        self.failures = 0
        self.opens = 0
        if self.state != CLOSED:
            self._move(CLOSED)

    def failure(self, error: str = "") -> None:
        self.failures += 1
        if self.state == HALF_OPEN or self.failures >= self.threshold:
            self.opens += 1
            self.retry_at = self.clock() + self.delay
            self._move(OPEN, error)

    def _move(self, state: str, error: str = "") -> None:
        previous, self.state = self.state, state
        fields: dict[str, object] = {"breaker": self.name, "state": state, "previous": previous}
        if state == OPEN:
            fields |= {"retryInSeconds": self.delay, "failures": self.failures, "error": error}
        level = logging.WARNING if state == OPEN else logging.INFO
        log_event("circuit_state", level, **fields)
