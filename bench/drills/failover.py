"""The failover drill: kill -9 one box of the ha topology under load through the balancer.

The load goes through the balancer (nginx standing in for the ALB). One box's whole gunicorn
group (master and workers) is killed, as a lost instance stops answering at once; the local box
starts it again after REPLACE_AFTER seconds, standing in for the auto scaling group's
replacement. What the load saw, and when, is told apart with the balancer's access log: the
first failed attempt at the lost box (from then on the balancer keeps it out), the last failed
request, and the first request the box answered again. Every acknowledged write is then read
back from PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import psycopg

from bench.drills.ha_harness import BOXES, REPLACE_AFTER, HaDrillBox
from bench.drills.harness import wait_for
from bench.drills.report import Result, seconds
from bench.load import Load, Outcome

BEFORE, AFTER = 2.0, 3.0  # seconds of load before the kill, and once the box is back
WAIT = 60.0  # longest we wait for the box to take requests again
VICTIM = 1
THREADS = 8
ACTION = (
    f"kill -9 of one box's gunicorn group (of 2) under load; replaced after {REPLACE_AFTER:g} s"
)


@dataclass(frozen=True)
class Timeline:
    """When things happened, in seconds after the kill (None: not within the wait)."""

    killed: float  # time.monotonic() of the kill
    dropped: float | None  # the balancer's first failed attempt at the lost box
    started: float | None  # the box's gunicorn started again
    back: float | None  # the box answered a request again

    def at(self, after: float | None) -> float:
        """The monotonic time `after` seconds after the kill (the wait's end when None)."""
        return self.killed + (WAIT if after is None else after)


def failover(box: HaDrillBox) -> Result:
    """Kill one box under load; the other serves; the killed one comes back and takes its share."""
    offset = time.time() - time.monotonic()  # access-log times are wall-clock
    victim = box.socket(VICTIM)
    # More clients, no pause, as the sigterm drill: more requests are in flight at the kill.
    with Load(box.port, "failover", threads=THREADS, pause=0.0) as load:
        time.sleep(BEFORE)
        master = box.pid(VICTIM)
        killed = time.monotonic()
        os.killpg(master, signal.SIGKILL)  # the master leads its group: the workers go too
        started = wait_for(lambda: box.pid(VICTIM) != master, WAIT, 0.1)
        since = time.time()
        answered = wait_for(lambda: _answered(box.access_log(), victim, since), WAIT, 0.1)
        time.sleep(AFTER)
    log = box.access_log()
    dropped = _first_failed_attempt(log, victim, killed + offset)
    back = None if answered is None else since - offset + answered - killed
    timeline = Timeline(
        killed, None if dropped is None else dropped - offset - killed, started, back
    )
    shares = (
        _shares(log, box, since=load.started + offset, until=killed + offset),
        _shares(log, box, since=timeline.at(back) + offset) if back is not None else "-",
    )
    return _result(load, timeline, lost_writes(box.database_url(), load.window(0).acked()), shares)


def _result(load: Load, timeline: Timeline, lost: int, shares: tuple[str, str]) -> Result:
    tally = load.window(0)
    bad = [o for o in tally.outcomes if o.kind != "ok"]
    after_drop = [o for o in bad if o.start > timeline.at(timeline.dropped)]
    alone = load.window(timeline.at(timeline.dropped), timeline.at(timeline.back))
    last = max((o.end - timeline.killed for o in bad), default=None)
    return Result(
        "failover",
        ACTION,
        tally,
        lost,
        f"last failure {seconds(last, 'none')}; back {seconds(timeline.back)}",
        f"{len(bad)} failed or refused in all, {len(after_drop)} of them sent after the"
        f" balancer dropped the box ({seconds(timeline.dropped)} after the kill; from then"
        f" until it was back, {alone.ok} of {len(alone.outcomes)} requests OK); {lost} of"
        f" {len(tally.acked())} acknowledged writes lost",
        lost == 0 and not after_drop and None not in (timeline.dropped, timeline.back),
        [
            f"failed: {_kinds(bad)}: requests the killed box held (nginx resends a GET that broke"
            " off to the other box, never a PATCH it had sent: such a PATCH may or may not be"
            f" stored, and its client sends it again); load: {THREADS} clients, no pause",
            f"requests per box before the kill: {shares[0]}; after it came back: {shares[1]};"
            f" its gunicorn started again {seconds(timeline.started)} after the kill, and the"
            " balancer tried it again once its fail_timeout had run out",
            "an ALB does not retry, and drops a target only after failed health checks of"
            " /api/health/ready (interval x unhealthy threshold): on AWS, requests sent to a"
            " lost instance fail until then (see docs/ha.md)",
        ],
    )


def lost_writes(database_url: str, acked: list[Outcome]) -> int:
    """Acknowledged writes whose row is missing or different in PostgreSQL now."""
    with closing(psycopg.connect(database_url, connect_timeout=10)) as conn:
        rows = conn.execute("SELECT user_id, device_id FROM user_states").fetchall()
    stored = dict(rows)
    return sum(1 for o in acked if stored.get(o.user) != o.device)


def _attempts(entry: dict[str, Any]) -> list[tuple[str, str]]:
    """(box socket, its status) for each box the balancer tried for one request, in order."""
    boxes = [u.strip().removeprefix("unix:") for u in str(entry.get("upstream", "")).split(",")]
    statuses = [s.strip() for s in str(entry.get("upstreamStatus", "")).split(",")]
    return list(zip(boxes, statuses, strict=False))


def _first_failed_attempt(log: list[dict[str, Any]], socket: str, since: float) -> float | None:
    """When the balancer first failed to get an answer from `socket` after `since` (wall)."""
    for entry in log:
        if entry["time"] >= since and any(
            box == socket and status != "200" for box, status in _attempts(entry)
        ):
            return float(entry["time"])
    return None


def _answered(log: list[dict[str, Any]], socket: str, since: float) -> bool:
    """Whether `socket` answered a request 200 after `since` (wall)."""
    return any(entry["time"] >= since and (socket, "200") in _attempts(entry) for entry in log)


def _shares(
    log: list[dict[str, Any]], box: HaDrillBox, since: float = 0.0, until: float = float("inf")
) -> str:
    """`box-1 N / box-2 M`: which box answered the requests logged in [since, until)."""
    names = {box.socket(n): f"box-{n}" for n in BOXES}
    counts: Counter[str] = Counter()
    for entry in log:
        if since <= entry["time"] < until:
            answered = [b for b, status in _attempts(entry) if status == "200"]
            counts.update(names.get(b, b) for b in answered[-1:])
    return " / ".join(f"{name} {counts[name]}" for name in names.values())


def _kinds(outcomes: list[Outcome]) -> str:
    counts = Counter(
        f"{o.kind} {o.method}" + (f" {o.status}" if o.status else "") for o in outcomes
    )
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "none"
