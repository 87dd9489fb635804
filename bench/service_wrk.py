"""Closed-loop load with wrk and bench/service_mix.lua, and the 80/20 mix in Python.

wrk measures how many requests per second a server can take (each connection sends its next
request when the previous one answers); its latencies at saturation are queueing time, which
is why the fixed-rate run (service_openloop.py) reports the latency figure that matters.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

MIX = Path(__file__).with_name("service_mix.lua")
USERS = 50
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
    argv += ["-s", str(MIX), url]
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


def pick(rng: random.Random) -> tuple[str, str, bytes | None]:
    """One request of the mix: (method, path, JSON body or None); as service_mix.lua does."""
    base = f"/api/users/user{rng.randint(1, USERS)}"
    roll = rng.randint(1, 100)
    if roll <= 80:
        return "GET", f"{base}/state", None
    if roll <= 87:
        return "PATCH", f"{base}/mute", json.dumps({"isMuted": rng.random() < 0.5}).encode()
    if roll <= 94:
        device = {"deviceId": f"dev-{rng.randint(1, 9)}", "deviceLabel": "Headset"}
        return "PATCH", f"{base}/device", json.dumps(device).encode()
    body = {"isMuted": False, "deviceLabel": "Speakers"}
    return "POST", f"{base}/state", json.dumps(body).encode()


def seed_users(url: str) -> None:
    """Give every user of the mix a stored state, so reads are 200s, not 404s."""
    for n in range(1, USERS + 1):
        body = json.dumps({"isMuted": False, "deviceId": "dev-0", "deviceLabel": "Speakers"})
        request = urllib.request.Request(  # noqa: S310 (http on loopback)
            f"{url}/api/users/user{n}/state",
            data=body.encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
            reply.read()
