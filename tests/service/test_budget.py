"""The error budget of /api/metrics: its arithmetic, its daily totals and their window."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask

from service import contract
from service.db import SqliteStore
from service.web import budget, create_app

NOON = datetime(2026, 3, 31, 12, tzinfo=UTC).timestamp()


def test_no_requests_spend_nothing() -> None:
    assert budget.budget(99.5, 30, 0, 0)["budgetLeftPct"] == 100.0


def test_the_objective_allows_its_share_of_the_requests_as_5xx() -> None:
    spent_half = budget.budget(99.5, 30, 10_000, 25)
    assert spent_half == {
        "objectivePct": 99.5,
        "windowDays": 30,
        "requests": 10_000,
        "errors5xx": 25,
        "allowed5xx": 50.0,
        "budgetLeftPct": 50.0,
    }
    assert budget.budget(99.5, 30, 10_000, 50)["budgetLeftPct"] == 0.0
    assert budget.budget(99.5, 30, 10_000, 100)["budgetLeftPct"] == -100.0


def test_a_window_of_thirty_days_starts_twenty_nine_days_before_today() -> None:
    assert budget.day_of(NOON) == "2026-03-31"
    assert budget.first_day(NOON, 30) == "2026-03-02"
    assert budget.first_day(NOON, 1) == "2026-03-31"


def _app(tmp_path: Path) -> Flask:
    return create_app({"DATABASE": str(tmp_path / "app.db"), "ENV": "test"})


def _close(app: Flask) -> None:
    budget.of(app).close()
    app.extensions["onebox"].activity.close()
    app.extensions["onebox"].store.close()


def _explode(*args: object) -> None:
    raise RuntimeError("boom")


def test_the_budget_survives_a_restart_of_the_app(tmp_path: Path) -> None:
    first = _app(tmp_path)
    first.extensions["onebox"].store.get_state = _explode
    client = first.test_client()
    assert client.get("/api/users/x/state").status_code == 500
    assert client.get("/api/health/live").status_code == 200
    before = client.get("/api/metrics").get_json()["sloBudget"]
    assert (before["requests"], before["errors5xx"]) == (2, 1)
    _close(first)  # writes the /api/metrics request too

    second = _app(tmp_path)
    try:
        after = second.test_client().get("/api/metrics").get_json()
    finally:
        _close(second)
    assert after["api"]["totalRequests"] == 0  # the process counters started again
    assert after["sloBudget"] == budget.budget(
        contract.SLO_AVAILABILITY_PCT, contract.SLO_WINDOW_DAYS, 3, 1
    )


def test_days_outside_the_window_are_ignored(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "app.db"))
    store.migrate()
    store.add_daily_totals(
        {
            "2026-03-01": (1000, 900),  # 31 days ago: out
            "2026-03-02": (100, 1),  # the window's first day
            "2026-03-31": (10, 0),  # today
        }
    )
    store.add_daily_totals({"2026-03-31": (5, 2)})  # a second batch adds to the day
    totals = budget.DailyTotals(store, clock=lambda: NOON)
    try:
        assert totals.window(30) == (115, 3)
        totals.count(200)
        totals.count(503)
        assert totals.window(30) == (117, 4)
        assert totals.window(1) == (17, 3)
    finally:
        totals.close()


def test_a_failed_write_keeps_the_counts_for_the_next_one(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "app.db"))
    store.migrate()
    totals = budget.DailyTotals(store, clock=lambda: NOON)
    try:
        totals.count(500)
        real = store.add_daily_totals

        def full(batch: object) -> None:
            from service.store import StoreFull

            raise StoreFull("disk full")

        store.add_daily_totals = full  # type: ignore[method-assign]
        totals.flush()
        store.add_daily_totals = real  # type: ignore[method-assign]
        assert totals.window(30) == (1, 1)
    finally:
        totals.close()


@pytest.mark.parametrize("status", [200, 404, 500])
def test_every_answered_request_counts_once(tmp_path: Path, status: int) -> None:
    store = SqliteStore(str(tmp_path / "app.db"))
    store.migrate()
    totals = budget.DailyTotals(store, clock=lambda: NOON)
    try:
        totals.count(status)
        assert totals.window(30) == (1, int(status >= 500))
    finally:
        totals.close()


def test_the_budget_is_the_contracts_objective_unless_the_setting_changes_it(
    tmp_path: Path,
) -> None:
    default = _app(tmp_path)
    try:
        assert default.config["SLO_AVAILABILITY_PCT"] == contract.SLO_AVAILABILITY_PCT
    finally:
        _close(default)
    strict = create_app(
        {"DATABASE": str(tmp_path / "strict.db"), "ENV": "test", "SLO_AVAILABILITY_PCT": 99.9}
    )
    try:
        client = strict.test_client()
        for _ in range(3):
            client.get("/api/health/live")
        reported = client.get("/api/metrics").get_json()["sloBudget"]
    finally:
        _close(strict)
    assert reported == budget.budget(99.9, contract.SLO_WINDOW_DAYS, 3, 0)
    assert reported["objectivePct"] == 99.9
