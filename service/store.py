"""The narrow interface between the service and its storage.

Views depend on `UserStateStore` only. SQLite (`service.db`) implements it for one box; a
PostgreSQL implementation for several boxes behind a load balancer is an addition beside it,
not a rewrite of the views.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    mode: str  # journal mode or equivalent: reported by /api/health

    def get_state(self, user_id: str) -> UserState | None: ...

    def update_state(
        self, user_id: str, changes: Mapping[str, object], now: str | None = None
    ) -> UserState:
        """Apply `changes` (keys from WRITABLE_FIELDS) atomically; create the user if new.

        `updatedAt` is `now` when given (tests, imports), else the time read inside the write
        transaction, so that the order of updatedAt values is the order of the commits.
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
