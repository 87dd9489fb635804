"""sync against gthread workers once nginx buffers requests in front: CPU per request and
latency at a fixed rate, with gunicorn on the port itself as the baseline.

    .venv/bin/python -m bench.front [--rate 100] [--seconds 10] [--rounds 2]

Each setting serves the real service (ours): "direct" is gunicorn on 127.0.0.1 as before;
"nginx" is the box's nginx config (localbox.edge, rate limits out of the way) in front of
gunicorn's unix socket. The 80/20 mix arrives at a fixed rate, open loop (bench/fixed_rate.py),
first without a quota, then with nginx and gunicorn together under the 10 % quota of a
t2.micro. Rounds are outermost, so drift hits every setting alike. Prints one table of
medians and the ratios against the first row.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import statistics
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.cgroup import cpu_quota
from bench.fixed_rate import FixedRate, fixed_rate
from bench.mix import store_users
from bench.servers import Server, serve
from bench.throughput import PERIOD_US, QUOTA_US
from localbox import edge
from localbox.processes import free_port

SETTINGS = (
    ("direct", "-w 2 -k gthread --threads 2"),
    ("nginx", "-w 2 -k gthread --threads 2"),
    ("nginx", "-w 2 -k sync"),
    ("nginx", "-w 3 -k sync"),
)
UNLIMITED = {"APP_RATE_WRITES_PER_MINUTE": "1000000", "APP_RATE_READS_PER_MINUTE": "1000000"}


@dataclass
class Fronted(Server):
    """gunicorn (proc) behind nginx (front), measured together: the box runs both."""

    front: object = None
    front_pids: list[int] = field(default_factory=list)

    def pids(self) -> list[int]:
        return [*super().pids(), *self.front_pids]


def _nginx_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    with contextlib.suppress(OSError):
        return [master, *map(int, children.read_text().split())]
    return [master]


@contextlib.contextmanager
def serving(front: str, flags: str, workdir: Path) -> Iterator[Server]:
    if front == "direct":
        with serve("ours", workdir, shlex.split(flags)) as server:
            yield server
        return
    nginx = edge.nginx_binary()
    if nginx is None:
        raise SystemExit("bench.front: nginx is not installed")
    sock = workdir / "gunicorn.sock"
    with serve("ours", workdir, [*shlex.split(flags), "--bind", f"unix:{sock}"]) as server:
        port = free_port()
        config = edge.local_config(workdir / "nginx", port, sock, UNLIMITED)
        conf = edge.write_config(workdir / "nginx", config)
        with edge.running(nginx, conf, port) as proc:
            yield Fronted(server.name, server.proc, port, proc, _nginx_pids(proc.pid))


def _one(server: Server, rate: float, seconds: float) -> tuple[FixedRate, FixedRate | None]:
    store_users(server.url)
    fixed_rate(server, rate, 2, 0)  # warm-up
    free = fixed_rate(server, rate, seconds, 1)
    with cpu_quota(QUOTA_US, PERIOD_US, "onebox-front") as (group, _):
        if group is None:
            return free, None
        group.add(server.pids())
        capped = fixed_rate(server, rate, seconds, 2)
    return free, capped


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    runs: dict[tuple[str, str], list[tuple[FixedRate, FixedRate | None]]] = {
        s: [] for s in SETTINGS
    }
    for n in range(args.rounds):
        for front, flags in SETTINGS:
            with (
                tempfile.TemporaryDirectory(prefix="onebox-front-") as tmp,
                serving(front, flags, Path(tmp)) as server,
            ):
                runs[front, flags].append(_one(server, args.rate, args.seconds))
        print(f"  round {n + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    rows = []
    for setting, results in runs.items():
        capped = [c for _, c in results if c is not None]
        rows.append(
            (
                setting,
                _median([f.cpu_ms_per_request for f, _ in results]),
                _median([f.percentile(95) for f, _ in results]),
                _median([c.cpu_ms_per_request for c in capped]),
                _median([c.percentile(95) for c in capped]),
                f"{sum(c.sustained for c in capped)}/{len(capped)}",
            )
        )
    base = rows[0]
    print(f"fixed {args.rate:.0f} req/s, {args.seconds:.0f} s per run, medians of {args.rounds}")
    print("| front | gunicorn flags | CPU ms/req | p95 ms | quota CPU ms/req | quota p95 ms "
          "| sustained | quota p95 vs first |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for (front, flags), cpu, p95, qcpu, qp95, held in rows:
        ratio = qp95 / base[4] if base[4] == base[4] and base[4] else float("nan")
        print(f"| {front} | `{flags}` | {cpu:.2f} | {p95:.0f} | {qcpu:.2f} | {qp95:.0f} "
              f"| {held} | {ratio:.2f}x |")  # fmt: skip


if __name__ == "__main__":
    main()
