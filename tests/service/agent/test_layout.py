"""The releases root: the atomic switch of `current` and which releases pruning keeps."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from service.agent.layout import Layout


def add(layout: Layout, version: str, age: int) -> None:
    path = layout.path_of(version)
    path.mkdir(parents=True)
    layout.mark_installed(version)
    stamp = 1_700_000_000 + age
    os.utime(path, (stamp, stamp))


def test_current_is_replaced_by_a_rename_and_points_into_releases_relatively(box: Layout) -> None:
    add(box, "one", 1)
    add(box, "two", 2)
    box.switch_to("one")
    before = box.current.lstat().st_ino
    box.switch_to("two")
    assert box.current.readlink() == Path("releases") / "two"
    assert box.current_version() == "two"
    assert box.current.lstat().st_ino != before  # a new link renamed over, not edited in place
    assert not list(box.root.glob(".current-*"))


def test_switching_to_a_release_that_is_not_installed_fails_and_keeps_current(box: Layout) -> None:
    add(box, "one", 1)
    box.switch_to("one")
    with pytest.raises(FileNotFoundError, match="missing"):
        box.switch_to("missing")
    assert box.current_version() == "one"


def test_pruning_keeps_the_newest_and_never_the_current_or_previous(box: Layout) -> None:
    for age, version in enumerate(["oldest", "old", "previous", "recent", "newest"]):
        add(box, version, age)
    os.utime(box.path_of("previous"), (1, 1))  # older than all, but still protected
    removed = box.prune(keep=2, protect={"newest", "previous"})
    assert sorted(removed) == ["old", "oldest"]
    assert sorted(p.name for p in box.releases.iterdir()) == ["newest", "previous", "recent"]


def test_failed_versions_are_remembered_until_one_succeeds(box: Layout) -> None:
    assert box.failed_versions() == set()
    box.record_failure("bad")
    box.record_failure("worse")
    assert Layout(box.root).failed_versions() == {"bad", "worse"}
    box.forget_failure("bad")
    assert box.failed_versions() == {"worse"}
