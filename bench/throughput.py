"""Benchmark: the service against a bare Flask app, side by side, and at a t2.micro's CPU.

    .venv/bin/python -m bench.throughput [--rounds 3] [--seconds 8] [--quota-seconds 15]
                                         [--rate 100] [--flags '-w 1']

1. Throughput (closed loop, wrk, 80/20 read/write over 50 users): requests/s, p50/p95/p99,
   CPU ms per request; medians of --rounds rounds, alternating which server goes first.
   Target: the instrumentation costs at most 10 % of throughput (ours/bare >= 0.90).
2. At a 10 % CPU quota (a cgroup; t2.micro baseline): the most each takes (wrk), then a fixed
   100 req/s (open loop, latency from the due time). Target: 100 req/s sustained, p95 < 200 ms.
Both servers run the whole time on 127.0.0.1; the idle one uses no CPU. Prints tables only;
pass/fail is for the reader. One full run takes about 2.5 minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shlex
import statistics
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TypeVar

from bench.cgroup import cpu_quota
from bench.fixed_rate import FixedRate, fixed_rate
from bench.mix import USERS, store_users
from bench.servers import Server, serve, worker_settings
from bench.wrk import Run, run_wrk

NAMES = ("ours", "bare")
QUOTA_US, PERIOD_US = 10_000, 100_000  # 10 % of one CPU
CONNECTIONS = 16
T = TypeVar("T")


def measure(server: Server, seconds: int) -> Run:
    """A wrk run, with the CPU the server's processes spent per request."""
    before = server.cpu_seconds()
    run = run_wrk(server.url, seconds, CONNECTIONS)
    cpu_ms = (server.cpu_seconds() - before) * 1000 / max(run.requests, 1)
    return dataclasses.replace(run, cpu_ms_per_request=cpu_ms)


def alternate(rounds: int, act: Callable[[str, int], T]) -> dict[str, list[T]]:
    """Call act(name, round) for both servers, `rounds` times, swapping who goes first."""
    results: dict[str, list[T]] = {name: [] for name in NAMES}
    for n in range(rounds):
        for name in NAMES if n % 2 == 0 else reversed(NAMES):
            results[name].append(act(name, n))
    return results


def _median(runs: list[Run], attr: str) -> float:
    return statistics.median(getattr(run, attr) if attr != "rate" else run.rate for run in runs)


def throughput_table(results: dict[str, list[Run]]) -> str:
    cols = [("req/s", "rate"), ("p50 ms", "p50_ms"), ("p95 ms", "p95_ms"), ("p99 ms", "p99_ms")]
    cols += [("CPU ms/req", "cpu_ms_per_request")]
    lines = [f"{'':10}" + "".join(f"{title:>12}" for title, _ in cols) + f"{'non-2xx':>10}"]
    med = {name: {attr: _median(runs, attr) for _, attr in cols} for name, runs in results.items()}
    for name, runs in results.items():
        bad = sum(run.non_2xx + run.socket_errors for run in runs)
        lines.append(f"{name:10}" + "".join(f"{med[name][a]:12.2f}" for _, a in cols) + f"{bad:10}")
    ratios = "".join(f"{med['ours'][a] / med['bare'][a]:11.2f}x" for _, a in cols)
    lines.append(f"{'ours/bare':10}" + ratios)
    return "\n".join(lines)


def openloop_table(results: dict[str, list[FixedRate]]) -> str:
    head = ["due", "done", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms", "CPU ms/req"]
    lines = [f"{'':10}" + "".join(f"{h:>11}" for h in head) + f"{'sustained':>11}"]
    for name, runs in results.items():
        for r in runs:
            values = [r.due, r.completed, r.errors, f"{r.achieved_rate:.1f}"]
            values += [f"{r.percentile(q):.1f}" for q in (50, 95, 99)]
            values += [f"{r.cpu_ms_per_request:.2f}", str(r.sustained)]
            lines.append(f"{name:10}" + "".join(f"{v:>11}" for v in values))
    p95 = {name: statistics.median(r.percentile(95) for r in rs) for name, rs in results.items()}
    cpu = {n: statistics.median(r.cpu_ms_per_request for r in rs) for n, rs in results.items()}
    lines.append(f"median p95: ours {p95['ours']:.1f} ms, bare {p95['bare']:.1f} ms")
    ratio = cpu["ours"] / cpu["bare"] if cpu["bare"] else float("nan")
    lines.append(f"median CPU ms/req: ours {cpu['ours']:.2f}, bare {cpu['bare']:.2f}, {ratio:.2f}x")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8, help="per wrk run")
    parser.add_argument("--quota-seconds", type=int, default=15, help="per fixed-rate run")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument(
        "--flags", default="", help="extra gunicorn flags for both servers, e.g. '-w 1'"
    )
    args = parser.parse_args()
    print(f"host: {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.node()}")
    extra = shlex.split(args.flags)
    print(f"gunicorn worker settings (both servers): {worker_settings()} {' '.join(extra)}")
    with tempfile.TemporaryDirectory(prefix="onebox-bench-") as tmp:
        workdir = Path(tmp)
        with serve("ours", workdir, extra) as ours, serve("bare", workdir, extra) as bare:
            servers = {"ours": ours, "bare": bare}
            for server in servers.values():
                store_users(server.url)
                run_wrk(server.url, 2, CONNECTIONS)  # warm-up: imports, connections, caches
            throughput(servers, args)
            quota(servers, args)
        print(f"(ours logs one JSON line per request to {workdir}/ours.log, as the unit does)")


def throughput(servers: dict[str, Server], args: argparse.Namespace) -> None:
    print(f"\n== 1. throughput: wrk -t1 -c{CONNECTIONS}, {args.seconds} s x {args.rounds} rounds,")
    print(f"      80/20 read/write over {USERS} users; medians (target: ours/bare req/s >= 0.90)")
    runs = alternate(args.rounds, lambda name, n: measure(servers[name], args.seconds))
    print(throughput_table(runs))


def quota(servers: dict[str, Server], args: argparse.Namespace) -> None:
    print("\n== 2. at a 10 % CPU quota, one group per server (t2.micro baseline)")
    with ExitStack() as stack:
        for name, server in servers.items():
            group, description = stack.enter_context(cpu_quota(QUOTA_US, PERIOD_US, name))
            print(f"   {name}: {description}")
            if group is None:
                print("   not measured: no CPU quota can be set on this machine")
                return
            group.add(server.pids())
        print(f"-- the most each takes: wrk, {args.seconds} s each")
        print(throughput_table(alternate(1, lambda name, n: measure(servers[name], args.seconds))))
        print(f"-- fixed {args.rate:.0f} req/s, open loop, {args.quota_seconds} s x 2 rounds")
        print("   (target: ours sustained with p95 < 200 ms)")
        fixed = alternate(
            2, lambda name, n: fixed_rate(servers[name], args.rate, args.quota_seconds, n)
        )
        print(openloop_table(fixed))


if __name__ == "__main__":
    main()
