"""The narrow interface between the service and its storage.

Views depend on `UserStateStore` only. SQLite (`service.db`) implements it for one box; a
PostgreSQL implementation for several boxes behind a load balancer is an addition beside it,
not a rewrite of the views.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

# The user-state fields a client may write, with the Python type each must have.
WRITABLE_FIELDS: Mapping[str, type] = {"isMuted": bool, "deviceId": str, "deviceLabel": str}


class StoreError(Exception):
    """The store could not do what was asked; subclasses say why."""


class StoreFull(StoreError):
    """No space is left for the write (disk full or database size cap reached)."""


class StoreUnavailable(StoreError):
    """The store cannot take writes, or cannot be reached, right now."""


@dataclass(frozen=True)
class UserState:
    user_id: str
    is_muted: bool
    device_id: str | None
    device_label: str | None
    updated_at: str

    def to_json(self) -> dict[str, object]:
        return {
            "userId": self.user_id,
            "isMuted": self.is_muted,
            "deviceId": self.device_id,
            "deviceLabel": self.device_label,
            "updatedAt": self.updated_at,
        }


@dataclass(frozen=True)
class ActiveUsers:
    current: int
    peak: int


class UserStateStore(Protocol):
    """What the service needs from storage, and nothing more."""

    kind: str  # "SQLite", "PostgreSQL": reported by /api/health

    @property
    def mode(self) -> str:
        """Journal mode, or the server's read-write state and version: /api/health."""
        ...

    def get_state(self, user_id: str) -> UserState | None: ...

    def update_state(
        self, user_id: str, changes: Mapping[str, object], now: str | None = None
    ) -> UserState:
        """Apply `changes` (keys from WRITABLE_FIELDS) atomically; create the user if new.

        `updatedAt` is `now` when given (tests, imports), else the time read inside the write
        transaction, so that the order of a user's updatedAt values is the order of that user's
        commits (SQLite, one writer at a time, orders all commits so).
        """
        ...

    def record_activity(self, user_ids: Mapping[str, float], since: float) -> ActiveUsers:
        """Store last-seen times (epoch seconds) and return users seen after `since`."""
        ...

    def active_users(self, since: float) -> ActiveUsers: ...

    def ping(self) -> None:
        """Raise StoreError unless the store answers a trivial query."""
        ...

    def close(self) -> None: ...


class DailyTotalsStore(Protocol):
    """Requests and 5xx per UTC day, for the error budget (service/web/budget.py)."""

    def add_daily_totals(self, totals: Mapping[str, tuple[int, int]]) -> None: ...

    def daily_totals(self, first_day: str) -> dict[str, tuple[int, int]]: ...


# Opens a span named after a store call (service/web/tracing.py makes one from its tracer).
SpanFactory = Callable[[str], AbstractContextManager[object]]


class TracedStore:
    """A `UserStateStore` whose calls each run inside a span named `store.<method>`.

    The seam for tracing: it wraps any store and knows nothing of OpenTelemetry, so the
    store itself (and every process that does not trace) carries no tracing code at all.
    """

    def __init__(self, inner: UserStateStore, span: SpanFactory) -> None:
        self.inner = inner
        self.kind = inner.kind
        self._span = span

    @property
    def mode(self) -> str:
        return self.inner.mode  # a server's mode can change (a failover): read it each time

    def get_state(self, user_id: str) -> UserState | None:
        with self._span("store.get_state"):
            return self.inner.get_state(user_id)

    def update_state(
        self, user_id: str, changes: Mapping[str, object], now: str | None = None
    ) -> UserState:
        with self._span("store.update_state"):
            return self.inner.update_state(user_id, changes, now)

    def record_activity(self, user_ids: Mapping[str, float], since: float) -> ActiveUsers:
        with self._span("store.record_activity"):
            return self.inner.record_activity(user_ids, since)

    def active_users(self, since: float) -> ActiveUsers:
        with self._span("store.active_users"):
            return self.inner.active_users(since)

    def ping(self) -> None:
        with self._span("store.ping"):
            self.inner.ping()

    def close(self) -> None:
        self.inner.close()  # at shutdown, after the last request: nothing to trace
