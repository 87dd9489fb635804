"""The activity tracker's CPU per request, the previous design beside the current one.

    .venv/bin/python -m bench.activity [--calls 200] [--rounds 5]

For each number of distinct users already seen within the window (1k, 10k, 100k), both
trackers are filled with that many users, then timed on `calls` requests from users not seen
yet (the worst case: every one must be recorded). The store is a no-op, so the figures are the
tracker's own CPU (thread CPU time, so other processes on a shared machine disturb it less);
the current tracker's batched write is timed too, once per round, spread over its requests.
The table shows medians over `rounds` rounds and the ratio previous / current.

Last run: 2026-12-06 06:51 UTC, `--rounds 7`, on a 2-CPU Linux VM shared with other jobs:

| users in the window | previous us/request | current us/request | ratio |
|---:|---:|---:|---:|
| 1,000 | 2.0 | 1.4 | 1x |
| 10,000 | 397.1 | 1.0 | 418x |
| 100,000 | 5832.3 | 1.9 | 3119x |

Past 10k users the previous tracker rebuilt its dictionary on every new user; the current
one's cost does not grow with the number of users.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable, Mapping

from service.store import ActiveUsers
from service.web.activity import WINDOW_SECONDS, ActivityTracker

SIZES = (1_000, 10_000, 100_000)


class NullStore:
    def record_activity(self, user_ids: Mapping[str, float], since: float) -> ActiveUsers:
        return ActiveUsers(current=len(user_ids), peak=len(user_ids))


class PreviousTracker:
    """The tracker as it was: one dict, rebuilt past 10k users, one store write per new user."""

    def __init__(self, store: NullStore, clock: Callable[[], float], resolution: float = 30.0):
        self.store = store
        self.clock = clock
        self.resolution = resolution
        self._recorded: dict[str, float] = {}
        self._lock = threading.Lock()

    def seen(self, user_id: str) -> None:
        now = self.clock()
        with self._lock:
            if now - self._recorded.get(user_id, float("-inf")) < self.resolution:
                return
            self._recorded[user_id] = now
            if len(self._recorded) > 10_000:
                cutoff = now - WINDOW_SECONDS
                self._recorded = {u: t for u, t in self._recorded.items() if t > cutoff}
        self.store.record_activity({user_id: now}, since=now - WINDOW_SECONDS)


def _per_call_us(make: Callable[[], object], size: int, calls: int, rounds: int) -> float:
    """Median over rounds of the CPU microseconds per call of `seen` for a user not seen yet."""
    results = []
    for round_ in range(rounds):
        tracker = make()
        if isinstance(tracker, PreviousTracker):  # what `seen` leaves, without its rebuilds
            tracker._recorded = dict.fromkeys((f"old-{n}" for n in range(size)), time.time())
        else:
            for n in range(size):
                tracker.seen(f"old-{n}")  # type: ignore[attr-defined]
        flush = getattr(tracker, "flush", lambda: None)
        flush()
        started = time.thread_time_ns()
        for n in range(calls):
            tracker.seen(f"new-{round_}-{n}")  # type: ignore[attr-defined]
        flush()  # the current tracker's batch write belongs to these requests
        results.append((time.thread_time_ns() - started) / calls / 1000)
        getattr(tracker, "close", lambda: None)()
    return statistics.median(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    clock = time.time
    print("| users in the window | previous us/request | current us/request | ratio |")
    print("|---:|---:|---:|---:|")
    for size in SIZES:
        before = _per_call_us(
            lambda: PreviousTracker(NullStore(), clock), size, args.calls, args.rounds
        )
        after = _per_call_us(
            lambda: ActivityTracker(NullStore(), clock=clock, flush_seconds=3600),  # type: ignore[arg-type]
            size,
            args.calls,
            args.rounds,
        )
        print(f"| {size:,} | {before:.1f} | {after:.1f} | {before / after:.0f}x |")


if __name__ == "__main__":
    main()
