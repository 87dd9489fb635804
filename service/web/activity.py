"""Who is active: users seen in the last five minutes, counted the same from every worker.

Each worker remembers when it last recorded a user and writes to the store at most once per
`resolution` seconds per user, so reads stay reads; the count is exact to that resolution.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from service.logs import log_event
from service.store import StoreError, UserStateStore

WINDOW_SECONDS = 300


class ActivityTracker:
    def __init__(
        self,
        store: UserStateStore,
        resolution: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.resolution = resolution
        self.clock = clock
        self._recorded: dict[str, float] = {}
        self._lock = threading.Lock()

    def seen(self, user_id: str) -> None:
        """Note that `user_id` made a request now; best effort, never fails the request."""
        now = self.clock()
        with self._lock:
            if now - self._recorded.get(user_id, float("-inf")) < self.resolution:
                return
            self._recorded[user_id] = now
            if len(self._recorded) > 10_000:  # forget users idle longer than the window
                cutoff = now - WINDOW_SECONDS
                self._recorded = {u: t for u, t in self._recorded.items() if t > cutoff}
        try:
            self.store.record_activity({user_id: now}, since=now - WINDOW_SECONDS)
        except StoreError as exc:
            with self._lock:
                self._recorded.pop(user_id, None)
            log_event("activity_not_recorded", userId=user_id, reason=str(exc))
