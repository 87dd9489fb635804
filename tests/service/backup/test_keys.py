"""Key names and the retention rule, as pure functions over fake clocks (no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from service.backup import keys

NOW = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)


def series(newest: datetime, count: int, every: timedelta) -> list[keys.BackupKey]:
    """`count` backups, the newest at `newest`, one every `every` before it."""
    return [
        keys.BackupKey(newest - i * every, keys.make_key("backups", newest - i * every, "box"))
        for i in range(count)
    ]


def test_keys_carry_a_utc_timestamp_that_sorts_by_time_and_the_host() -> None:
    early = keys.make_key("backups/", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "ip-10-0-0-1")
    later = keys.make_key("backups", datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC), "a")
    assert early == "backups/20260102T030405Z-ip-10-0-0-1.sqlite.gz"
    assert early < later


def test_a_time_in_another_zone_is_written_in_utc() -> None:
    plus_two = datetime(2026, 1, 2, 7, 0, tzinfo=timezone(timedelta(hours=2)))
    assert keys.make_key("b", plus_two, "h") == "b/20260102T050000Z-h.sqlite.gz"


def test_a_time_without_a_zone_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        keys.make_key("b", datetime(2026, 1, 2), "h")


def test_an_unsafe_host_name_becomes_a_safe_label() -> None:
    assert keys.host_label("my box/x") == "my-box-x"
    assert keys.host_label("///") == "host"


def test_parsing_a_key_gives_its_time_and_other_objects_are_not_backups() -> None:
    parsed = keys.parse_key("backups/20261123T101500Z-box.sqlite.gz")
    assert parsed == keys.BackupKey(datetime(2026, 11, 23, 10, 15, tzinfo=UTC), parsed.key)
    assert keys.parse_key("backups/notes.txt") is None
    assert keys.parse_key("backups/20261123T101500Z-box.sqlite") is None
    listed = keys.backups(["backups/x", "b/20260101T000000Z-a.sqlite.gz"])
    assert [b.key for b in listed] == ["b/20260101T000000Z-a.sqlite.gz"]


RETENTION_CASES = {
    # name: (backups, keep, days, indexes of the deleted ones (newest = 0))
    "all younger than the window: nothing goes": (
        series(NOW, 20, timedelta(hours=6)),
        7,
        7,
        [],
    ),
    "daily for 10 days: the 2 older than 7 days go": (
        series(NOW, 10, timedelta(days=1)),
        7,
        7,
        [8, 9],  # day 7 exactly is inside the window; days 8 and 9 are out
    ),
    "stopped for 30 days: the newest 7 stay whatever their age": (
        series(NOW - timedelta(days=30), 10, timedelta(minutes=5)),
        7,
        7,
        [7, 8, 9],
    ),
    "one ancient backup is the last copy: it stays": (
        series(NOW - timedelta(days=400), 1, timedelta(days=1)),
        7,
        7,
        [],
    ),
    "every 5 minutes for 8 days: the last day of the 8 goes": (
        series(NOW, 8 * 288, timedelta(minutes=5)),
        7,
        7,
        list(range(7 * 288 + 1, 8 * 288)),
    ),
    "keep 1, window 1 day, stopped for a week": (
        series(NOW - timedelta(days=7), 5, timedelta(hours=1)),
        1,
        1,
        [1, 2, 3, 4],
    ),
}


@pytest.mark.parametrize("case", RETENTION_CASES.keys())
def test_retention_keeps_the_window_and_always_the_newest_n(case: str) -> None:
    items, keep, days, deleted_indexes = RETENTION_CASES[case]
    deleted = keys.to_delete(list(reversed(items)), NOW, keep, days)
    assert sorted(deleted) == sorted(items[i].key for i in deleted_indexes)
    assert items[0].key not in deleted


def test_retention_never_deletes_the_newest_whatever_the_settings() -> None:
    items = series(NOW - timedelta(days=90), 3, timedelta(days=30))
    assert items[0].key not in keys.to_delete(items, NOW, keep=1, days=0)


@pytest.mark.parametrize(("keep", "days"), [(0, 7), (-1, 7), (7, -1)])
def test_retention_refuses_settings_that_could_delete_the_last_copy(keep: int, days: int) -> None:
    with pytest.raises(ValueError, match=r"keep=|days="):
        keys.to_delete([], NOW, keep, days)
