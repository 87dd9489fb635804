"""The checks after a switch: the service is ready and every answer reports the new version.

Each probe opens a new connection, so it reaches whichever worker accepts next; several
consecutive good answers in a row mean the old workers have stopped taking requests.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

CONSECUTIVE = 3
INTERVAL = 0.2


@dataclass(frozen=True)
class Observation:
    ready: bool
    version: str | None
    problem: str | None = None


def _get(url: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Connection": "close"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def observe(base_url: str) -> Observation:
    """One look at /api/health/ready and /api/health."""
    try:
        ready_status, _ = _get(f"{base_url}/api/health/ready")
        health_status, body = _get(f"{base_url}/api/health")
    except (OSError, urllib.error.URLError) as exc:
        return Observation(ready=False, version=None, problem=str(exc))
    try:
        version = json.loads(body).get("version")
    except (json.JSONDecodeError, AttributeError):
        version = None
    problem = None if ready_status == 200 else f"/api/health/ready answered {ready_status}"
    if health_status != 200:
        problem = f"/api/health answered {health_status}"
    return Observation(ready=ready_status == 200, version=version, problem=problem)


def wait_for(base_url: str, version: str, seconds: float) -> Observation:
    """Poll until CONSECUTIVE observations are ready with `version`, or `seconds` pass.

    Returns the last observation; the caller decides from `ready` and `version`.
    """
    deadline = time.monotonic() + seconds
    good = 0
    last = Observation(ready=False, version=None, problem="not checked")
    while time.monotonic() < deadline:
        last = observe(base_url)
        good = good + 1 if last.ready and last.version == version else 0
        if good >= CONSECUTIVE:
            return last
        time.sleep(INTERVAL)
    if last.ready and last.version != version:
        return Observation(False, last.version, f"version is {last.version!r}, not {version!r}")
    return Observation(False, last.version, last.problem or "not ready in time")


def metrics(base_url: str) -> str | None:
    """The /metrics text, or None when the service does not answer it."""
    try:
        status, body = _get(f"{base_url}/metrics")
    except (OSError, urllib.error.URLError):
        return None
    return body.decode() if status == 200 else None
