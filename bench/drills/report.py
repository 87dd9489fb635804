"""One row per drill, printed as a Markdown table (the terminal and the README read the same)."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.drills.harness import DrillBox
from bench.load import Outcome, Tally

COLUMNS = ("drill", "what was done", "ok", "failed", "refused", "acked writes lost", "recovery")


@dataclass
class Result:
    """What a drill did, what the load saw, and what we make of it."""

    name: str
    action: str
    tally: Tally | None = None
    lost: int | None = None
    recovery: str = "-"
    verdict: str = ""
    expected: bool = True
    notes: list[str] = field(default_factory=list)

    def row(self) -> list[str]:
        t = self.tally
        counts = [str(t.ok), str(t.failed), _refused(t)] if t else ["-", "-", "-"]
        lost = "-" if self.lost is None else str(self.lost)
        return [self.name, self.action, *counts, lost, self.recovery]


def _refused(tally: Tally) -> str:
    resets = tally.count("reset")
    return f"{tally.refused} ({resets} reset)" if resets else str(tally.refused)


def seconds(value: float | None, limit: str = "not within the wait") -> str:
    return limit if value is None else f"{value:.2f} s"


def lost_writes(box: DrillBox, acked: list[Outcome], database: Path | None = None) -> int:
    """Acknowledged writes whose row is missing or different in the database now (the box's,
    unless a drill served from a `database` of its own)."""
    connection = box.connect() if database is None else sqlite3.connect(database, timeout=10)
    with closing(connection) as conn:
        stored = dict(conn.execute("SELECT user_id, device_id FROM user_states").fetchall())
    return sum(1 for o in acked if stored.get(o.user) != o.device)


def table(results: list[Result]) -> str:
    """The Markdown table, then one line per drill: verdict and notes."""
    rows = [list(COLUMNS), *(r.row() for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [_line(rows[0], widths), _line(["-" * w for w in widths], widths)]
    lines += [_line(row, widths) for row in rows[1:]]
    lines.append("")
    for result in results:
        mark = "as expected" if result.expected else "NOT as expected"
        lines.append(f"- **{result.name}** ({mark}): {result.verdict}")
        lines += [f"  - {note}" for note in result.notes]
    return "\n".join(lines)


def _line(cells: list[str], widths: list[int]) -> str:
    return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"


def readme_section(results: list[Result], started: datetime, wall: float) -> str:
    """The README's drills section: how to run them, and this run's table with its date."""
    when = started.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            "## Drills: breaking the local box on purpose",
            "",
            "```sh",
            "make drills                                # all of them, about two minutes",
            ".venv/bin/python -m bench.drills hup restore   # or some, by name",
            "```",
            "",
            "Each drill runs under a steady load (4 threads of mixed GET/PATCH on 127.0.0.1, every",
            "PATCH a new user, so each acknowledged write can be looked up in the database after).",
            "ok / failed (5xx or unexpected) / refused (no connection, or reset before an answer)",
            "count requests; none of this is a pass/fail timing test. The S3 and CloudWatch",
            "endpoint is moto_server behind a proxy the drill cuts; the database directory is a",
            "24 MB tmpfs so the disk really fills.",
            "",
            "The runbook, RUNBOOK.md, says what to type to start, stop, pause, deploy, roll back",
            "and restore, how to read the logs, and what to do when each alarm fires. Its blocks",
            "are marked `# local box` (run as written by tests/runbook against `make local`) or",
            "`# AWS only`.",
            "",
            f"Last run: {when}, {wall:.0f} s in all, on a {os.cpu_count()}-CPU Linux machine:",
            "",
            table(results),
            "",
        ]
    )
