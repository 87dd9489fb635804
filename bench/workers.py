"""Which gunicorn worker settings suit one vCPU: CPU per request and latency at a fixed rate.

    .venv/bin/python -m bench.workers [--rate 100] [--seconds 10] [--rounds 3]
                          [--apps ours bare] [--settings '-w 2 -k gthread --threads 4' ...]

For each setting, both servers (ours and bare, as in bench/throughput.py) take the 80/20 mix at a
fixed rate, open loop: first without a quota, for the CPU each request really costs when
requests arrive one by one (at saturation they share wake-ups and cost less), then under the
10 % quota of a t2.micro, for the latency. 1.00 CPU ms/req is all a 10 % quota gives at
100 req/s, so a setting must stay well below it. Prints one table of medians; each run of
one app under one setting takes about 25 s.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
from pathlib import Path

from bench.cgroup import cpu_quota
from bench.fixed_rate import FixedRate, fixed_rate
from bench.mix import store_users
from bench.servers import Server, serve
from bench.throughput import NAMES, PERIOD_US, QUOTA_US

DEFAULT_SETTINGS = (
    "-w 2 -k gthread --threads 4",
    "-w 2 -k gthread --threads 2",
    "-w 2 -k gthread --threads 1",
    "-w 1 -k gthread --threads 4",
    "-w 1 -k gthread --threads 2",
    "-w 1 -k gthread --threads 1",
    "-w 2 -k sync --threads 1",
)


Runs = dict[tuple[str, str], list[tuple[FixedRate, FixedRate | None]]]


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}" if values else "-"


def _row(setting: str, name: str, runs: list[tuple[FixedRate, FixedRate | None]]) -> str:
    """Medians over the rounds; `sustained` counts the rounds that held the rate under quota."""
    capped = [c for _, c in runs if c is not None]
    values = [
        _median([f.cpu_ms_per_request for f, _ in runs]),
        _median([f.percentile(95) for f, _ in runs]),
        _median([c.achieved_rate for c in capped]),
        _median([c.percentile(95) for c in capped]),
        f"{sum(c.sustained for c in capped)}/{len(capped)}" if capped else "-",
    ]
    return f"{setting:30}{name:6}" + "".join(f"{v:>12}" for v in values)


def _one(server: Server, rate: float, seconds: float) -> tuple[FixedRate, FixedRate | None]:
    """A free run, then a run under the quota (None when no quota can be set here)."""
    store_users(server.url)
    fixed_rate(server, rate, 2, 0)  # warm-up: connections, imports, caches
    free = fixed_rate(server, rate, seconds, 1)
    with cpu_quota(QUOTA_US, PERIOD_US, server.name) as (group, _):
        if group is None:
            return free, None
        group.add(server.pids())
        capped = fixed_rate(server, rate, seconds, 2)
    return free, capped


def run_all(args: argparse.Namespace) -> Runs:
    """Every (setting, app) once per round; rounds outermost, so drift hits all alike."""
    runs: Runs = {(setting, name): [] for setting in args.settings for name in args.apps}
    for n in range(args.rounds):
        for setting, name in runs:
            with (
                tempfile.TemporaryDirectory(prefix="onebox-workers-") as tmp,
                serve(name, Path(tmp), shlex.split(setting)) as server,
            ):
                runs[setting, name].append(_one(server, args.rate, args.seconds))
        print(f"  round {n + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--apps", nargs="+", choices=NAMES, default=list(NAMES))
    parser.add_argument("--settings", nargs="+", default=list(DEFAULT_SETTINGS))
    args = parser.parse_args()
    runs = run_all(args)
    head = ["CPU ms/req", "p95 ms", "quota req/s", "quota p95", "sustained"]
    print(f"fixed {args.rate:.0f} req/s, open loop, {args.seconds:.0f} s per run, medians of")
    print(f"{args.rounds} rounds; 'quota': 10 % of one CPU ({QUOTA_US}/{PERIOD_US} us)")
    print(f"{'gunicorn flags':30}{'app':6}" + "".join(f"{h:>12}" for h in head))
    for setting in args.settings:
        for name in args.apps:
            label = setting if name == args.apps[0] else ""
            print(_row(label, name, runs[setting, name]))


if __name__ == "__main__":
    main()
