"""Drills on gunicorn's processes: graceful reload, SIGTERM, and kill -9 of a worker and the master.

Each runs under the steady load for a moment, acts, waits for the box to be itself again
(measured), keeps the load on a little longer, then checks every acknowledged write.
"""

from __future__ import annotations

import os
import signal
import time

from bench.drills.harness import DrillBox, wait_for
from bench.drills.report import Result, lost_writes, seconds
from bench.load import Load, Tally

BEFORE, AFTER = 1.5, 1.5  # seconds of load around the event
WAIT = 60.0  # longest we wait for the box to recover
KILL_MASTER = "kill -9 of the gunicorn master during writes; restarted by the supervisor"


def hup(box: DrillBox) -> Result:
    """SIGHUP to the master: new workers on the same socket; nothing may fail or be refused."""
    with Load(box.port, "hup") as load:
        time.sleep(BEFORE)
        old = box.workers()
        os.kill(box.pid(), signal.SIGHUP)

        def replaced() -> bool:
            now = box.workers()
            return len(now) >= len(old) and not now & old and box.ready()

        took = wait_for(replaced, WAIT)
        time.sleep(AFTER)
    tally = load.window(0)
    expected = tally.failed == 0 and tally.refused == 0
    return Result(
        "hup",
        "SIGHUP to the gunicorn master (graceful reload)",
        tally,
        lost_writes(box, tally.acked()),
        f"{seconds(took)} to new workers",
        f"{tally.failed} failed, {tally.refused} refused while every worker was replaced",
        expected,
    )


def sigterm(box: DrillBox) -> Result:
    """SIGTERM to the master: requests in flight finish; the supervisor starts it again."""
    # More clients, no pause: more requests are in flight when the signal lands.
    mark = box.log_mark()
    with Load(box.port, "term", threads=8, pause=0.0) as load:
        time.sleep(BEFORE)
        master = box.pid()
        signalled = time.monotonic()
        os.kill(master, signal.SIGTERM)
        took = wait_for(lambda: box.pid() != master and box.ready(), WAIT)
        time.sleep(AFTER)
    tally = load.window(0)
    in_flight = [o for o in tally.outcomes if o.start < signalled < o.end]
    done = sum(1 for o in in_flight if o.kind == "ok")
    # A request a worker accepted is drained; a connection still in the kernel's listen backlog
    # is reset when the last copy of the listening socket closes (only locally: see the note).
    # The service logs every request it handled: a reset write it never logged was never taken.
    resets = [o for o in in_flight if o.kind == "reset"]
    log = box.log_since(mark)
    taken = sum(1 for o in resets if o.method == "GET" or f"/{o.user}/" in log)
    lost = lost_writes(box, tally.acked())
    return Result(
        "sigterm",
        "SIGTERM to the gunicorn master (systemctl stop); restarted (Restart=always)",
        tally,
        lost,
        f"{seconds(took)} to ready",
        f"{done} of {len(in_flight)} requests in flight at the signal completed OK",
        done + len(resets) - taken == len(in_flight) and tally.failed == 0 and lost == 0,
        [
            f"{len(resets)} in flight were reset, {len(resets) - taken} of them writes the service"
            " never logged (still in the listen backlog when the socket closed)",
            _refused_note(tally.refused),
        ],
    )


def kill_worker(box: DrillBox) -> Result:
    """kill -9 of one worker during writes: gunicorn's master replaces it at once."""
    with Load(box.port, "killw", write_share=0.8) as load:
        time.sleep(BEFORE)
        old = box.workers()
        victim = min(old)
        os.kill(victim, signal.SIGKILL)

        def replaced() -> bool:
            now = box.workers()
            return victim not in now and len(now) >= len(old) and box.ready()

        took = wait_for(replaced, WAIT)
        time.sleep(AFTER)
    return _writes_kept(
        box,
        load.window(0),
        ("kill-worker", "kill -9 of one gunicorn worker during writes"),
        f"{seconds(took)} to a new worker",
        "requests the killed worker held are cut (counted as reset), never acknowledged",
    )


def kill_master(box: DrillBox) -> Result:
    """kill -9 of the master during writes: its workers exit, the supervisor restarts it."""
    with Load(box.port, "killm", write_share=0.8) as load:
        time.sleep(BEFORE)
        master = box.pid()
        os.kill(master, signal.SIGKILL)
        took = wait_for(lambda: box.pid() != master and box.ready(), WAIT)
        time.sleep(AFTER)
    tally = load.window(0)
    return _writes_kept(
        box,
        tally,
        (
            "kill-master",
            "kill -9 of the gunicorn master during writes; restarted by the supervisor",
        ),
        f"{seconds(took)} to ready (RestartSec=2)",
        _refused_note(tally.refused),
    )


def _writes_kept(
    box: DrillBox, tally: Tally, drill: tuple[str, str], recovery: str, note: str
) -> Result:
    """The result of a kill drill: as expected when no acknowledged write was lost or failed."""
    lost = lost_writes(box, tally.acked())
    verdict = f"{lost} of {len(tally.acked())} acknowledged writes lost"
    return Result(*drill, tally, lost, recovery, verdict, lost == 0 and tally.failed == 0, [note])


def _refused_note(refused: int) -> str:
    return (
        f"{refused} refused or reset while gunicorn was down: the local box holds the listening"
        " socket across restarts as onebox.socket does on EC2, so connections wait in its backlog"
    )
