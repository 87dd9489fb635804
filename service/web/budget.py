"""The availability error budget: requests and 5xx per UTC day, kept in the store, over 30 days.

The request counters of `service.web.metrics` restart with the service; the budget's window is
a month. So each worker counts its requests per day in memory (a dictionary update per
request, no database write) and adds them to the `daily_requests` table in one transaction:
every `flush_seconds` from a background thread, before /api/metrics reads the table, and when
the worker exits. The objective is the app's `SLO_AVAILABILITY_PCT` (APP_SLO_AVAILABILITY_PCT,
by default the contract's); the window is `contract.SLO_WINDOW_DAYS`.
"""

from __future__ import annotations

import atexit
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask import Flask, Response

from service import contract
from service.logs import log_event
from service.store import DailyTotalsStore, StoreError
from service.web.batching import BackgroundFlush

EXTENSION = "onebox_budget"


def day_of(epoch: float) -> str:
    """The UTC day of an instant, `YYYY-MM-DD` (what the table is keyed by)."""
    return datetime.fromtimestamp(epoch, UTC).date().isoformat()


def first_day(epoch: float, window_days: int) -> str:
    """The oldest day of a window of `window_days` days that ends with the day of `epoch`."""
    return (datetime.fromtimestamp(epoch, UTC).date() - timedelta(days=window_days - 1)).isoformat()


def budget(
    objective_pct: float, window_days: int, requests: int, errors_5xx: int
) -> dict[str, object]:
    """The error budget: 5xx allowed by the objective over the window, and the share left.

    With no requests nothing is spent (100 % left); once more 5xx were served than allowed the
    share left is negative, so an overspent budget reads as such instead of as 0.
    """
    allowed = requests * (100 - objective_pct) / 100
    if requests == 0:
        left_pct = 100.0
    elif allowed == 0:  # a 100 % objective: any 5xx spends more than the whole budget
        left_pct = 100.0 if errors_5xx == 0 else -100.0 * errors_5xx
    else:
        left_pct = round(100 * (1 - errors_5xx / allowed), 2)
    return {
        "objectivePct": objective_pct,
        "windowDays": window_days,
        "requests": requests,
        "errors5xx": errors_5xx,
        "allowed5xx": round(allowed, 2),
        "budgetLeftPct": left_pct,
    }


class DailyTotals(BackgroundFlush[dict[str, tuple[int, int]]]):
    """This worker's requests and 5xx per UTC day, written to the store in batches."""

    def __init__(
        self,
        store: DailyTotalsStore,
        clock: Callable[[], float] = time.time,
        flush_seconds: float = 5.0,
    ) -> None:
        self.store = store
        self.clock = clock
        super().__init__(flush_seconds, "budget-flush")
        self._pending: dict[str, tuple[int, int]] = {}

    def count(self, status: int) -> None:
        """One request answered with `status`, today."""
        day = day_of(self.clock())
        with self._lock:
            requests, errors = self._pending.get(day, (0, 0))
            self._pending[day] = (requests + 1, errors + (status >= 500))
        self._added()

    def _take(self) -> dict[str, tuple[int, int]] | None:
        batch, self._pending = self._pending, {}
        return batch or None

    def _write(self, batch: dict[str, tuple[int, int]]) -> None:
        """Add the counts to the table; on failure keep them for the next flush."""
        try:
            self.store.add_daily_totals(batch)
        except StoreError as exc:
            with self._lock:
                for day, (requests, errors) in batch.items():
                    more_requests, more_errors = self._pending.get(day, (0, 0))
                    self._pending[day] = (requests + more_requests, errors + more_errors)
            log_event("daily_totals_not_recorded", days=len(batch), reason=str(exc))

    def window(self, window_days: int) -> tuple[int, int]:
        """Requests and 5xx over the last `window_days` UTC days, today included."""
        self.flush()
        rows = self.store.daily_totals(first_day(self.clock(), window_days))
        return sum(r for r, _ in rows.values()), sum(e for _, e in rows.values())


def of(app: Flask) -> DailyTotals:
    totals: DailyTotals = app.extensions[EXTENSION]
    return totals


def summary(app: Flask) -> dict[str, object]:
    """The `sloBudget` object of /api/metrics; counts are None when the store fails."""
    days, objective = contract.SLO_WINDOW_DAYS, app.config["SLO_AVAILABILITY_PCT"]
    try:
        requests, errors = of(app).window(days)
    except StoreError:
        return budget(objective, days, 0, 0) | {
            "requests": None,
            "errors5xx": None,
            "allowed5xx": None,
            "budgetLeftPct": None,
        }
    return budget(objective, days, requests, errors)


def init_app(app: Flask, store: DailyTotalsStore) -> None:
    """Count every answered request into the app's own store (closed by shutdown, after this)."""
    totals = DailyTotals(store)
    app.extensions[EXTENSION] = totals
    atexit.register(totals.flush)  # a worker's last seconds of counts survive its exit

    @app.after_request
    def count(response: Response) -> Response:
        totals.count(response.status_code)
        return response
