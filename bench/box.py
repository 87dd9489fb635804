"""The box as deployed against bare Flask, at a t2.micro's CPU: the highest rate each sustains.

    .venv/bin/python -m bench.box [--start 40] [--step 10] [--max 200] [--seconds 10]
                                  [--tries 2] [--variant shipped] [--variant sync2 ...]

Each server (bench/servers.py) sits behind nginx rendered from the box's template, with nginx
and every process of the server in one cgroup with a 10 % CPU quota (bench/cgroup.py). 500
users are stored first. The load is open loop at a fixed rate, one new connection per request,
80 % `GET /api/users/<id>/state` and 20 % `PATCH .../mute` (bench/fixed_rate.py). A rate is
sustained when p95 stays under 200 ms and nothing fails, and missed when --tries runs at it in
a row did not hold. Each server climbs from --start by twice --step while rates hold, then
halves the gap to the lowest missed rate down to --step; the servers take turns at every run,
so drift on the machine hits all alike. Prints one table: per server the highest sustained rate,
its p50/p95/p99, CPU ms per request there (the cgroup's usage over the answers) and at the
first rate (where no server is throttled yet, so the cost compares alike), the resident memory
of the server's processes, and ours/bare. --variant runs ours with other gunicorn flags (or a
name of bench.servers.VARIANTS: shipped, gthread2x2, sync2, sync3, granian); shipped is the
unit's command line as it is.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.cgroup import PERIOD_US, QUOTA_US
from bench.fixed_rate import CLIENTS, P95_MS, FixedRate, fixed_rate
from bench.mix import USERS
from bench.servers import VARIANTS, Contender, Spec, running, spec

WARM_UP_SECONDS = 2.0


@dataclass
class Search:
    """One server's way up the rates: the best sustained run so far, and the misses."""

    contender: Contender
    rate: float
    best: FixedRate | None = None
    missed_at: float | None = None
    misses: int = 0
    runs: list[FixedRate] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.contender.spec.name


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--start", type=float, default=40.0, help="first rate, req/s")
    parser.add_argument("--step", type=float, default=10.0, help="the resolution, req/s")
    parser.add_argument("--max", type=float, default=200.0, help="no rate above this")
    parser.add_argument("--seconds", type=float, default=10.0, help="per run")
    parser.add_argument("--tries", type=int, default=2, help="runs that miss: the rate missed")
    parser.add_argument(
        "--variant",
        action="append",
        type=spec,
        metavar="NAME|FLAGS",
        help=f"ours as {', '.join(VARIANTS)}, or with gunicorn flags"
        " (--variant='-w 4 -k sync --threads 1'); repeat for more (default: shipped)",
    )
    parser.add_argument("--no-bare", dest="bare", action="store_false", help="no baseline")
    args = parser.parse_args(argv)
    for name in ("start", "step", "seconds", "tries"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be positive, not {getattr(args, name)}")
    if args.max < args.start:
        parser.error(f"--max {args.max} is below --start {args.start}")
    args.variant = args.variant or [spec("shipped")]
    return args


def contenders(args: argparse.Namespace) -> list[Spec]:
    """The variants of ours asked for, then bare (the baseline the ratios are against)."""
    unique = list(dict.fromkeys(args.variant))
    return [*unique, Spec("bare", "")] if args.bare else unique


def step(search: Search, args: argparse.Namespace, run: int) -> bool:
    """One run at the search's rate; whether the search goes on."""
    result = fixed_rate(search.contender, search.rate, args.seconds, run)
    search.runs.append(result)
    held = "held" if result.sustained else "missed"
    print(
        f"  {search.name:24} {search.rate:6.0f} req/s  p95 {result.percentile(95):7.1f} ms"
        f"  errors {result.errors:4}  CPU {result.cpu_ms_per_request:5.2f} ms/req  {held}",
        file=sys.stderr,
        flush=True,
    )
    if result.sustained:
        search.best, search.misses = result, 0
    else:
        search.misses += 1
        if search.misses < args.tries:
            return True  # the same rate again
        search.missed_at, search.misses = search.rate, 0
    following = next_rate(search, args)
    if following is not None:
        search.rate = following
    return following is not None


def next_rate(search: Search, args: argparse.Namespace) -> float | None:
    """Up by twice --step while every rate holds (no higher than --max), then halfway into
    the gap up to the lowest missed rate until that gap is one --step; None: done."""
    low = search.best.target_rate if search.best is not None else None
    high = search.missed_at
    if low is None:  # the first rate missed
        return None
    if high is None:
        for up in (low + 2 * args.step, low + args.step):
            if up <= args.max:
                return float(up)
        return None
    if high - low <= args.step:
        return None
    return float(low + args.step * max(1, round((high - low) / args.step / 2)))


def search_all(found: list[Contender], args: argparse.Namespace) -> list[Search]:
    """Step every contender up, taking turns (the order flips every round)."""
    searches = [Search(c, args.start) for c in found]
    for contender in found:
        fixed_rate(contender, args.start, WARM_UP_SECONDS, 0)
    going, run = list(searches), 0
    while going:
        for search in list(going):
            run += 1
            if not step(search, args, run):
                going.remove(search)
        going.reverse()
    return searches


def _ratio(ours: float | None, bare: float | None) -> str:
    return f"{ours / bare:.2f}x" if ours and bare else "-"


def table(searches: list[Search]) -> str:
    """The markdown table: one row per server, ratios against bare's row when it ran."""
    start = searches[0].runs[0].target_rate if searches and searches[0].runs else 0.0
    head = "| server | sustained req/s | first missed | p50 ms | p95 ms | p99 ms | CPU ms/req"
    head += f" | CPU ms/req at {start:.0f} | RSS MB | rate vs bare | CPU at {start:.0f} vs bare"
    head += " | RSS vs bare |"
    lines = [head, "|" + "---|" * 12]
    bare = next((s for s in searches if s.contender.spec.app == "bare"), None)
    for search in searches:
        cells = [search.name, *_figures(search)]
        if search.contender.spec.app == "bare" or bare is None:
            cells += ["-"] * 3
        else:
            cells += [
                _ratio(_best(search, "target_rate"), _best(bare, "target_rate")),
                _ratio(_first_cpu(search), _first_cpu(bare)),
                _ratio(_best(search, "rss_mb"), _best(bare, "rss_mb")),
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _figures(search: Search) -> list[str]:
    """Sustained rate, first missed rate, p50/p95/p99, CPU there and at the first rate, RSS."""
    best, missed, first = search.best, search.missed_at, _first_cpu(search)
    cells = [f"{best.target_rate:.0f}" if best else f"< {search.rate:.0f}"]
    cells.append(f"{missed:.0f}" if missed is not None else "-")
    if best is None:
        return [*cells, "-", "-", "-", "-", f"{first:.2f}" if first else "-", "-"]
    cells += [f"{best.percentile(q):.0f}" for q in (50, 95, 99)]
    return [*cells, f"{best.cpu_ms_per_request:.2f}", f"{first:.2f}", f"{best.rss_mb:.0f}"]


def _best(search: Search, attribute: str) -> float | None:
    return float(getattr(search.best, attribute)) if search.best is not None else None


def _first_cpu(search: Search) -> float | None:
    """CPU ms per request of the first run at the start rate: unthrottled, alike for all."""
    return search.runs[0].cpu_ms_per_request if search.runs else None


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    specs = contenders(args)
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} CPUs, {platform.node()}")
    print(
        f"each server and its nginx in one cgroup at {QUOTA_US}/{PERIOD_US} us of CPU; {USERS} "
        f"users; open loop, a new connection per request, {CLIENTS} clients; 80 % GET state, "
        f"20 % PATCH mute; {args.seconds:g} s per rate from {args.start:g}, to within "
        f"{args.step:g}; sustained: p95 < {P95_MS:.0f} ms, no errors; missed: {args.tries} runs "
        "in a row did not hold"
    )
    with tempfile.TemporaryDirectory(prefix="onebox-box-") as tmp, ExitStack() as stack:
        found = [
            stack.enter_context(running(s, Path(tmp) / f"server{n}", USERS))
            for n, s in enumerate(specs)
        ]
        print(table(search_all(found, args)))


if __name__ == "__main__":
    main()
