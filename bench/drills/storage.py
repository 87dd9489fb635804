"""Drills on what the box stores: disk full, S3 and CloudWatch unreachable, restore from backup."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

from bench.drills.harness import DrillBox, wait_for
from bench.drills.report import Result, lost_writes, seconds
from bench.load import Load
from localbox.units import ROOT
from service.contract import PUBLISH_UNIT

WAIT = 60.0


def fill(path: Path) -> int:
    """Write `path` until the filesystem has no byte left; the bytes written."""
    written = 0
    with path.open("wb", buffering=0) as out:
        for chunk in (1 << 20, 4096, 1):
            try:
                while written < 1 << 30:  # a tmpfs of a few MB: this bound is never reached
                    written += out.write(b"\0" * chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    return written


def disk_full(box: DrillBox) -> Result:
    """Fill the database's filesystem: writes answer 507, reads still work, then it recovers."""
    action = "fill the database's filesystem (24 MB tmpfs), then free it"
    if not box.tmpfs:
        return Result("disk-full", action, verdict="not run: mounting a tmpfs needs root here")
    filler = box.database.parent / "drill-filler"
    with Load(box.port, "full") as load:
        time.sleep(1.0)
        full_at = time.monotonic()
        size = fill(filler)
        # SQLite first fills space it already holds (WAL, free pages): the 507 comes later.
        saw_507 = wait_for(lambda: load.window(full_at).count("full") > 0, WAIT)
        time.sleep(1.0)  # reads go on while the disk is full
        freed_at = time.monotonic()
        filler.unlink()
        took = wait_for(lambda: bool(load.window(freed_at).acked()), WAIT)
        time.sleep(1.0)
    full = load.window(full_at, freed_at)
    tally = load.window(0)
    reads_ok, reads_bad = full.count("ok", method="GET"), full.count("failed", method="GET")
    lost = lost_writes(box, tally.acked())
    return Result(
        "disk-full",
        action,
        tally,
        lost,
        f"{seconds(took)} to the first stored write",
        f"{full.count('full')} writes answered JSON 507; {reads_ok} reads OK and {reads_bad}"
        " failed while full",
        saw_507 is not None and reads_bad == 0 and tally.failed == 0 and took is not None,
        [
            f"filler {size / 1e6:.1f} MB; first 507 {seconds(saw_507)} after the disk filled"
            " (writes go on in space SQLite already holds: WAL and free pages)"
        ],
    )


def aws_outage(box: DrillBox) -> Result:
    """Cut S3 and CloudWatch: the service goes on, backups fail (exit 1), then catch up."""
    publisher = box.pid(PUBLISH_UNIT)
    with Load(box.port, "aws") as load:
        mark = box.log_mark()
        box.proxy.down()
        failed = wait_for(lambda: "scheduled backup exit 1" in box.log_since(mark), WAIT, 0.2)
        opened = wait_for(lambda: _breaker(box.log_since(mark), "open"), 30, 0.2)
        rows_at_return = _rows(box)
        back = box.log_mark()
        box.proxy.up()
        caught_up = wait_for(lambda: _backed_up_rows(box) >= rows_at_return, WAIT, 0.2)
    tally = load.window(0)
    closed = wait_for(lambda: _breaker(box.log_since(back), "closed"), 75, 0.5)
    error = _first_event(box.log_since(mark), "backup_failed")
    same = box.pid(PUBLISH_UNIT) == publisher
    return Result(
        "aws-outage",
        "S3 and CloudWatch unreachable (endpoint cut), then back",
        tally,
        lost_writes(box, tally.acked()),
        f"{seconds(caught_up)} to a backup holding every row",
        f"service unaffected ({tally.failed} failed, {tally.refused} refused); backups exit 1,"
        " then the next one holds every row written during the outage",
        failed is not None and caught_up is not None and tally.failed + tally.refused == 0,
        [
            f"backup failure logged: {error}",
            f"publisher kept running (same pid: {same}); breaker opened {seconds(opened)} after"
            f" the cut, closed {seconds(closed)} after the endpoint came back (60 s probe delay)",
        ],
    )


def restore(box: DrillBox) -> Result:
    """Restore the newest backup into a new file: time it, and compare it row for row."""
    mark = box.log_mark()
    backed = wait_for(lambda: "scheduled backup exit 0" in box.log_since(mark), WAIT, 0.2)
    with tempfile.TemporaryDirectory(prefix="onebox-restore-") as scratch:
        target = Path(scratch, "restored.db")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "AWS_"))}
        command = [sys.executable, "-m", "service.backup", "restore", "--database", str(target)]
        started = time.monotonic()
        done = subprocess.run(
            command, cwd=ROOT, env=env | box.environment(), capture_output=True, timeout=300
        )
        took = time.monotonic() - started
        live, restored = _dump(box.database), _dump(target) if target.exists() else []
        check = _integrity(target) if target.exists() else "missing"
    equal = done.returncode == 0 and live == restored
    return Result(
        "restore",
        "restore the newest backup into a new file (python -m service.backup restore)",
        recovery=f"{took:.2f} s to restore",
        verdict=f"{len(restored)} rows restored, {len(live)} live: "
        + ("equal row for row" if equal else "DIFFERENT")
        + f"; integrity_check {check}",
        expected=equal and check == "ok" and backed is not None,
        notes=[f"restore exit {done.returncode}; no writes since the last scheduled backup"],
    )


def _rows(box: DrillBox) -> int:
    with closing(box.connect()) as conn:
        return int(conn.execute("SELECT count(*) FROM user_states").fetchone()[0])


def _backed_up_rows(box: DrillBox) -> int:
    """Rows of user_states in the last successful backup (its local state file says)."""
    try:
        state = json.loads((box.database.parent / "backup-state.json").read_text())
    except (OSError, ValueError):
        return -1
    return int(state.get("rows", {}).get("user_states", -1))


def _dump(database: Path) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(database)) as conn:
        return conn.execute("SELECT * FROM user_states ORDER BY user_id").fetchall()


def _integrity(database: Path) -> str:
    with closing(sqlite3.connect(database)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def _breaker(text: str, state: str) -> bool:
    """Whether the publisher's circuit breaker logged a move to `state` in `text`."""
    return any(e.get("event") == "circuit_state" and e.get("state") == state for e in _events(text))


def _events(text: str) -> list[dict[str, object]]:
    events = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            events.append(value)
    return events


def _first_event(text: str, name: str) -> str:
    """`name: error: message` of the first such event line in `text`, shortened."""
    for event in _events(text):
        if event.get("event") == name:
            return f"{name}: {event.get('error')}: {event.get('errorMessage')}"[:160]
    return "none found"
