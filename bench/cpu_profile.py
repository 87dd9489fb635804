"""Where the service's CPU per request goes: cProfile over the load mix, in process.

    .venv/bin/python -m bench.cpu_profile [--requests 3000] [--rounds 5]

Drives the real app and the bare app with Flask's test client (no sockets, no gunicorn; the
same overhead for both), alternating, then prints the median CPU per request of each (CPU
time, so other processes on a shared machine disturb it less than wall time) and, for the
service, the cumulative time of each per-request step. Metrics use prometheus-client's
multiprocess mode as under gunicorn, and the JSON log lines go to /dev/null.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import random
import statistics
import tempfile
import time
from collections.abc import Iterator

from bench.mix import USERS, pick

# (label, file suffix, function name): the steps every request of the service goes through.
STEPS = [
    ("request id, timer (observe._start)", "service/web/observe.py", "_start"),
    ("after request: total (observe._finish)", "service/web/observe.py", "_finish"),
    ("  metrics: counter + histogram", "service/web/metrics.py", "observe"),
    ("  activity: users seen", "service/web/activity.py", "seen"),
    ("  JSON log line", "service/logs.py", "log_request"),
    ("CORS headers", "service/web/cors.py", "_add_headers"),
    ("userId check", "service/web/users.py", "_check_user_id"),
    ("write token check", "service/web/users.py", "_require_token"),
    ("body validation", "service/web/users.py", "_body"),
    ("SQLite write (update_state)", "service/db.py", "update_state"),
    ("SQLite read (get_state)", "service/db.py", "get_state"),
    ("flask jsonify", "flask/json/__init__.py", "jsonify"),
]


def _drive(client: object, requests: int) -> float:
    """Send `requests` of the mix through a Flask test client; CPU seconds spent."""
    rng = random.Random(1)
    started = time.process_time()
    for _ in range(requests):
        sent = pick(rng)
        reply = client.open(  # type: ignore[attr-defined]
            sent.path,
            method=sent.method,
            data=sent.data,
            content_type="application/json" if sent.data else None,
        )
        if reply.status_code != 200:
            raise RuntimeError(f"{sent.method} {sent.path}: {reply.status_code} {reply.data!r}")
        reply.close()  # as a server does once it has sent it (ends a request's trace span)
    return time.process_time() - started


def _store_users(client: object) -> None:
    for n in range(1, USERS + 1):
        body = {"isMuted": False, "deviceId": "dev-0", "deviceLabel": "Speakers"}
        client.post(f"/api/users/user{n}/state", json=body)  # type: ignore[attr-defined]


def _step_table(stats: pstats.Stats, requests: int) -> list[str]:
    entries = stats.stats  # type: ignore[attr-defined]
    lines = []
    for label, suffix, name in STEPS:
        cumulative = sum(
            value[3]
            for (file, _, func), value in entries.items()
            if func == name and file.endswith(suffix)
        )
        lines.append(f"  {label:42}{cumulative * 1e6 / requests:10.1f} us")
    return lines


def arguments(doc: str) -> argparse.Namespace:
    """--requests per round and --rounds: what every in-process CPU benchmark takes."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    return parser.parse_args()


@contextlib.contextmanager
def metrics_dir(prefix: str) -> Iterator[str]:
    """A scratch folder, set as PROMETHEUS_MULTIPROC_DIR before prometheus_client is imported."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tmp
        yield tmp


def main() -> None:
    args = arguments(__doc__ or "")
    with metrics_dir("onebox-profile-") as tmp:
        from bench.bare_app import create_app as create_bare
        from service.web import create_app

        ours = create_app({"DATABASE": f"{tmp}/ours.db", "ENV": "test"}).test_client()
        bare = create_bare(f"{tmp}/bare.db").test_client()
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            for client in (ours, bare):
                _store_users(client)
                _drive(client, 200)  # warm-up
            cpu: dict[str, list[float]] = {"ours": [], "bare": []}
            for _ in range(args.rounds):
                cpu["bare"].append(_drive(bare, args.requests))
                cpu["ours"].append(_drive(ours, args.requests))
            ours_cpu, bare_cpu = (statistics.median(cpu[name]) for name in ("ours", "bare"))
            profile = cProfile.Profile()
            profile.runcall(_drive, ours, args.requests)
    per = 1e6 / args.requests
    print(f"CPU per request, test client, {args.requests} requests of the 80/20 mix,", end=" ")
    print(f"median of {args.rounds} rounds:")
    print(f"  ours {ours_cpu * per:.0f} us, bare {bare_cpu * per:.0f} us,", end=" ")
    print(f"ours/bare {ours_cpu / bare_cpu:.2f}x")
    total = pstats.Stats(profile).total_tt  # type: ignore[attr-defined]
    print(f"ours, cumulative time per request by step (under cProfile: {total * per:.0f} us")
    print("in all, so each figure is inflated about as much as that total is):")
    print("\n".join(_step_table(pstats.Stats(profile), args.requests)))


if __name__ == "__main__":
    main()
