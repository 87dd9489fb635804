"""Closed-loop load with wrk and bench/mix.lua (the 80/20 mix of bench/mix.py, for wrk).

wrk measures how many requests per second a server can take (each connection sends its next
request when the previous one answers); its latencies at saturation are queueing time, which
is why the fixed-rate run (bench/fixed_rate.py) reports the latency figure that matters.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from bench.mix import LUA, USERS

RESULT = re.compile(r"^RESULT (.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Run:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    cpu_ms_per_request: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    return path


def run_wrk(url: str, seconds: int, connections: int, threads: int = 1) -> Run:
    """One wrk run of the mix against `url`."""
    argv = [wrk_path(), f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    argv += ["-s", str(LUA), url]
    env = {**os.environ, "MIX_USERS": str(USERS)}
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=seconds + 30)
    match = RESULT.search(out.stdout)
    if out.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout[-500:]}{out.stderr[-500:]}")
    fields = dict(pair.split("=") for pair in match.group(1).split())
    return Run(
        requests=int(fields["requests"]),
        seconds=int(fields["duration_us"]) / 1e6,
        p50_ms=int(fields["p50_us"]) / 1000,
        p95_ms=int(fields["p95_us"]) / 1000,
        p99_ms=int(fields["p99_us"]) / 1000,
        non_2xx=int(fields["non2xx"]),
        socket_errors=int(fields["socket_errors"]),
    )
