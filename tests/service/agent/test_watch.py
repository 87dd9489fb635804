"""The watch after a deploy, against a real gunicorn under load: a release that goes ready and
then serves errors is rolled back by itself; a healthy one, or a slower one within the limits,
is kept; with too few requests nothing is judged, and the agent says so."""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from bench.load import Load, Tally
from service.agent.__main__ import main
from service.agent.layout import Layout
from tests.service.agent import releases
from tests.service.agent.conftest import Live, Recorder
from tests.service.agent.test_zero_downtime import health

pytestmark = pytest.mark.slow

# Short windows, so a test takes seconds; the checks every half second.
WATCH = {
    "watch": "12",
    "watch_interval_seconds": "0.5",
    "baseline_seconds": "2",
    "watch_min_requests": "40",
}


@dataclass(frozen=True)
class Watched:
    good: str  # the release running before
    version: str  # the release published
    code: int  # the agent's exit code
    tally: Tally | None  # what the load saw, when there was load


@pytest.fixture
def watched(
    box: Layout,
    live: Live,
    publish: Callable[[bytes], str],
    agent_env: Callable[..., None],
) -> Callable[..., Watched]:
    """watched(edits, load=True, **settings): publish a release edited so, run the agent once
    with the watch on (under load unless told otherwise)."""
    good, server = live.version, live.server
    port = urllib.parse.urlsplit(server.url).port
    assert port is not None

    def run(edits: Mapping[str, tuple[str, str]], load: bool = True, **settings: str) -> Watched:
        version = publish(releases.build(edits))
        reload = f"kill -HUP {server.proc.pid}"
        agent_env(url=server.url, reload=reload, check="20", **(WATCH | settings))
        with contextlib.ExitStack() as stack:
            traffic = stack.enter_context(Load(port, "watch", limit=120)) if load else None
            if traffic is not None:
                traffic.wait_for_requests(20)
            code = main([])
        assert health(server.url)[0]["version"] == box.current_version()
        return Watched(good, version, code, traffic.window(0) if traffic else None)

    return run


def only(recorder: Recorder, event: str) -> dict[str, Any]:
    found = recorder.named(event)
    assert len(found) == 1, [fields["event"] for fields in recorder.fields]
    return found[0]


def kept(box: Layout, recorder: Recorder, run: Watched, judged: bool) -> dict[str, Any]:
    """The `release_kept` event of a run that kept its release (checked: the agent exited 0,
    the release is current, and it was judged or not as expected)."""
    assert run.code == 0
    assert box.current_version() == run.version
    event = only(recorder, "release_kept")
    assert event["judged"] is judged
    return event


def test_a_release_that_serves_errors_after_going_ready_is_rolled_back_within_the_watch(
    box: Layout, watched: Callable[..., Watched], recorder: Recorder
) -> None:
    bad = watched(releases.FAILING_READS)

    assert bad.code == 1
    assert box.current_version() == bad.good
    assert bad.version in box.failed_versions()  # the timer's next run will not retry it
    assert only(recorder, "release_healthy")["version"] == bad.version  # it went ready first
    regressed = only(recorder, "release_regressed")
    assert regressed["reason"].startswith("5xx rate")
    assert regressed["window"]["errors"] > 0
    assert regressed["window"]["seconds"] < float(WATCH["watch"])
    assert regressed["baseline"]["errors"] == 0
    back = only(recorder, "release_rolled_back")
    assert (back["cause"], back["failed"], back["healthy"]) == ("regressed", bad.version, True)
    assert bad.tally is not None and bad.tally.failed > 0


def test_a_healthy_release_is_kept_after_its_watch(
    box: Layout, watched: Callable[..., Watched], recorder: Recorder
) -> None:
    new = watched(releases.MARKED, watch="3")

    event = kept(box, recorder, new, judged=True)
    assert event["window"]["errors"] == 0
    assert new.tally is not None and new.tally.failed + new.tally.refused == 0


def test_a_slower_release_within_the_limits_is_kept(
    box: Layout, watched: Callable[..., Watched], recorder: Recorder
) -> None:
    slower = watched(releases.SLOWER_READS, watch="3")

    event = kept(box, recorder, slower, judged=True)
    # Slower than before by the edit's 20 ms, and still under the objective's p95 (1 s).
    assert event["baseline"]["p95Ms"] < event["window"]["p95Ms"] <= event["maxP95Ms"]
    assert event["window"]["p95Ms"] >= 20


def test_too_few_requests_to_judge_keep_the_release_and_the_agent_says_so(
    box: Layout, watched: Callable[..., Watched], recorder: Recorder
) -> None:
    quiet = watched(releases.MARKED, load=False, watch="2", watch_min_requests="100")

    event = kept(box, recorder, quiet, judged=False)
    assert "too few to judge" in event["reason"]
