"""Who is active: users seen in the last five minutes, counted the same from every worker.

The count lives in the store (every worker's users in one table); each worker only decides
what to tell it, at a constant cost per request whatever the number of users:

- `seen` is a dictionary update. A user already recorded in the last `resolution` seconds is
  skipped, so a user's stored last-seen time is exact to that resolution. Only those recent
  users are remembered (older ones would be recorded again anyway), in recording order, so
  expiring them costs O(1) per request; `max_users` bounds the memory whatever comes in.
- What is to be recorded waits in a batch, bounded the same way, written in one transaction
  by `flush`: every `flush_seconds` from a background thread, before the metrics views count,
  and when the worker exits. No request writes, a read or a write: a transaction of its own
  per write request (with its fsync) cost more than the rest of the tracking put together.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from service.logs import log_event
from service.store import StoreError, UserStateStore
from service.web.batching import BackgroundFlush

WINDOW_SECONDS = 300
MAX_USERS = 100_000  # per worker: about 15 MB at most for the two maps together
FLUSH_SECONDS = 5.0  # how late another worker's users may be counted (docs/api.md)


class ActivityTracker(BackgroundFlush[OrderedDict[str, float]]):
    def __init__(
        self,
        store: UserStateStore,
        resolution: float = 30.0,
        clock: Callable[[], float] = time.time,
        flush_seconds: float = FLUSH_SECONDS,
        max_users: int = MAX_USERS,
    ) -> None:
        self.store = store
        self.resolution = resolution
        self.clock = clock
        super().__init__(flush_seconds, "activity-flush")
        self.max_users = max_users
        self._recorded: OrderedDict[str, float] = OrderedDict()  # oldest recording first
        self._pending: OrderedDict[str, float] = OrderedDict()  # the next batch to write

    def seen(self, user_id: str) -> None:
        """Note that `user_id` made a request now (written by the next `flush`)."""
        now = self.clock()
        with self._lock:
            self._expire(now - self.resolution)
            if user_id not in self._recorded:
                self._recorded[user_id] = now
                self._pending[user_id] = now
                self._pending.move_to_end(user_id)
                _trim(self._recorded, self.max_users)
                _trim(self._pending, self.max_users)
        if self._pending:
            self._added()

    def _expire(self, cutoff: float) -> None:
        recorded = self._recorded
        while recorded:
            user_id, at = next(iter(recorded.items()))
            if at > cutoff:
                return
            del recorded[user_id]

    def _take(self) -> OrderedDict[str, float] | None:
        if not self._pending:
            return None
        batch, self._pending = self._pending, OrderedDict()
        return batch

    def _write(self, batch: OrderedDict[str, float]) -> None:
        """Write the batch in one transaction; on failure keep it for the next one."""
        try:
            self.store.record_activity(batch, since=self.clock() - WINDOW_SECONDS)
        except StoreError as exc:
            with self._lock:
                batch.update(self._pending)  # newer sightings win
                self._pending = batch
                _trim(self._pending, self.max_users)
            log_event("activity_not_recorded", users=len(batch), reason=str(exc))

    def __len__(self) -> int:
        """Users remembered (recent and waiting): what this tracker's memory grows with."""
        with self._lock:
            return len(self._recorded) + len(self._pending)


def _trim(entries: OrderedDict[str, float], limit: int) -> None:
    """Forget the oldest entries beyond `limit` (a user forgotten early is only written again)."""
    while len(entries) > limit:
        entries.popitem(last=False)
