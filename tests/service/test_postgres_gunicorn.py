"""Two gunicorn services on one PostgreSQL act as one service: what one writes the other reads,
and kill -9 of one in the middle of writes loses no write either of them acknowledged."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from typing import Any

import pytest

from tests.service.conftest import Service
from tests.service.test_gunicorn import call
from tests.support import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def pair(postgres_url: str, start_service: Callable[..., Service]) -> tuple[Service, Service]:
    """Two services started as the unit starts them, on the same PostgreSQL database."""
    return start_service(APP_DATABASE_URL=postgres_url), start_service(
        APP_DATABASE_URL=postgres_url
    )


def test_a_write_on_one_service_is_read_on_the_other(pair: tuple[Service, Service]) -> None:
    one, other = pair
    for service in pair:
        status, health = call(service, "GET", "/api/health")
        assert (status, health["database"]["type"]) == (200, "PostgreSQL")
    status, written = call(one, "PATCH", "/api/users/ana/mute", {"isMuted": True})
    assert status == 200
    assert call(other, "GET", "/api/users/ana/state") == (200, written)
    status, moved = call(
        other, "PATCH", "/api/users/ana/device", {"deviceId": "tab", "deviceLabel": "Tablet"}
    )
    assert (status, moved["isMuted"], moved["deviceId"]) == (200, True, "tab")
    assert moved["updatedAt"] >= written["updatedAt"]
    assert call(one, "GET", "/api/users/ana/state") == (200, moved)


def test_kill_9_of_one_service_during_writes_loses_no_acknowledged_write(
    pair: tuple[Service, Service], start_service: Callable[..., Service]
) -> None:
    victim, survivor = pair
    acknowledged: dict[str, str] = {}
    stop = threading.Event()

    def writer(service: Service, name: str) -> None:
        for n in range(10_000):  # bounded; the kill and the stop end it long before
            if stop.is_set():
                return
            try:
                status, _ = call(service, "PATCH", f"/api/users/{name}-{n}/device",
                                 {"deviceId": f"d{n}", "deviceLabel": name})  # fmt: skip
            except OSError:
                if service is victim:
                    return
                continue
            if status == 200:
                acknowledged[f"{name}-{n}"] = f"d{n}"

    threads = [
        threading.Thread(target=writer, args=(service, f"{label}{i}"))
        for i in range(2)
        for service, label in ((victim, "v"), (survivor, "s"))
    ]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(acknowledged) >= 80, what="80 acknowledged writes")
    os.killpg(victim.proc.pid, signal.SIGKILL)  # master and workers, mid-write
    victim.wait()
    before_stop = len(acknowledged)
    wait_until(lambda: len(acknowledged) >= before_stop + 20, what="the survivor to keep writing")
    stop.set()
    for thread in threads:
        thread.join(timeout=30)

    restarted = start_service(APP_DATABASE_URL=victim.env["APP_DATABASE_URL"])
    assert any(user.startswith("v") for user in acknowledged)
    for user, device in list(acknowledged.items()):
        for service in (survivor, restarted):
            status, state = call(service, "GET", f"/api/users/{user}/state")
            assert (status, state["deviceId"]) == (200, device), (service.url, user)


def test_writes_to_one_user_through_both_services_are_stamped_in_commit_order(
    pair: tuple[Service, Service],
) -> None:
    """The state both services end up reading is the write with the latest updatedAt."""
    answers: list[dict[str, Any]] = []

    def writer(service: Service, name: str) -> None:
        for n in range(30):
            status, state = call(service, "PATCH", "/api/users/shared/device",
                                 {"deviceId": f"{name}-{n}", "deviceLabel": name})  # fmt: skip
            assert status == 200
            answers.append(state)

    threads = [threading.Thread(target=writer, args=(pair[i % 2], f"w{i}")) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 120
    latest = max(state["updatedAt"] for state in answers)
    for service in pair:
        status, final = call(service, "GET", "/api/users/shared/state")
        assert (status, final["updatedAt"]) == (200, latest)
        assert final in answers
