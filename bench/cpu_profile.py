"""Where the service's CPU per request goes: ours against bare Flask, over the load mix.

    .venv/bin/python -m bench.cpu_profile [--requests 3000] [--rounds 15] [--gunicorn | --activity]

In process (the default), each app is called as a WSGI server calls it: one environ per
request, built before the clock starts (so no test client's own work is counted), the body
read to the end and the response closed. Rounds alternate bare and ours; it prints the median
CPU per request of each and of the rounds' ratios (CPU time, which other processes on a shared
machine disturb less than wall time), then, for ours, the cumulative time of each per-request
step under cProfile.
Metrics use prometheus-client's multiprocess mode as under gunicorn; log lines go to /dev/null.

With --gunicorn, both run under gunicorn as deployed (bench/servers.py: the service's
gunicorn.conf.py, bare with the same worker settings) and get the same mix over one new
connection per request; the figure is the CPU the whole server (master and workers) used,
so it includes the WSGI server's own share. No CPU quota: bench.throughput measures under one.

With --activity, one worker's activity tracker alone, on a simulated clock at the load
benchmark's rate (whose 30 s resolution and 5 s batches the in-process run is too fast to meet).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import http.client
import io
import os
import pstats
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from werkzeug.test import EnvironBuilder

from bench.mix import USERS, Request, pick

App = Callable[[dict[str, Any], Callable[..., Any]], Any]  # a WSGI application

# (label, file suffix, function name): the steps every request of the service goes through.
STEPS = [
    ("Flask before-request hooks, in all", "flask/app.py", "preprocess_request"),
    ("  userId check", "service/web/users.py", "_check_user_id"),
    ("  chunked body check", "service/web/body.py", "read_streamed_body"),
    ("  token check", "service/web/auth.py", "require_token"),
    ("Flask after-request hooks, in all", "flask/app.py", "process_response"),
    ("  observe._finish", "service/web/observe.py", "_finish"),
    ("    metrics: counter + histogram", "service/web/metrics.py", "observe"),
    ("    activity: users seen", "service/web/activity.py", "seen"),
    ("    JSON log line", "service/logs.py", "log_request"),
    ("  CORS headers", "service/web/cors.py", "_add_headers"),
    ("  error budget count", "service/web/budget.py", "count"),
    ("body validation", "service/web/users.py", "_body"),
    ("SQLite write (update_state)", "service/db.py", "update_state"),
    ("SQLite read (get_state)", "service/db.py", "get_state"),
    ("flask jsonify", "flask/json/__init__.py", "jsonify"),
]
# What a client sends besides the request line (curl's and python's clients send as much).
CLIENT_ENVIRON = {
    "REMOTE_ADDR": "127.0.0.1",
    "REMOTE_PORT": "50000",
    "HTTP_USER_AGENT": "bench/1.0",
    "HTTP_ACCEPT": "*/*",
    "HTTP_CONNECTION": "close",
}


def plan(requests: int, seed: int = 1) -> list[Request]:
    """The first `requests` of the 80/20 mix, the same for every contender."""
    rng = random.Random(seed)
    return [pick(rng) for _ in range(requests)]


def environs(requests: list[Request]) -> list[tuple[dict[str, Any], bytes]]:
    """Each request's WSGI environ (without its input stream) and body."""
    built = []
    for sent in requests:
        data = sent.data or b""
        builder = EnvironBuilder(
            path=sent.path,
            method=sent.method,
            data=data,
            content_type="application/json" if sent.data else None,
        )
        environ = builder.get_environ() | CLIENT_ENVIRON
        builder.close()
        built.append((environ, data))
    return built


def serve(app: App, built: list[tuple[dict[str, Any], bytes]]) -> float:
    """Call `app` once per environ as a WSGI server does; CPU seconds spent."""
    statuses: list[str] = []
    started = time.process_time()
    for template, data in built:
        environ = dict(template)
        environ["wsgi.input"] = io.BytesIO(data)
        reply = app(environ, lambda status, headers, exc_info=None: statuses.append(status))
        try:
            for _ in reply:
                pass
        finally:
            if hasattr(reply, "close"):
                reply.close()  # as a server does once it has sent it (ends a trace span)
    spent = time.process_time() - started
    refused = [s for s in statuses if not s.startswith("200")]
    if refused:
        raise RuntimeError(f"{len(refused)} requests not answered 200, e.g. {refused[0]}")
    return spent


def _drive(client: object, requests: int) -> float:
    """Send `requests` of the mix through a Flask test client; CPU seconds spent."""
    started = time.process_time()
    for sent in plan(requests):
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
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--gunicorn", action="store_true", help="under gunicorn, over sockets")
    parser.add_argument("--activity", action="store_true", help="activity tracking at 50 req/s")
    return parser.parse_args()


@contextlib.contextmanager
def metrics_dir(prefix: str) -> Iterator[str]:
    """A scratch folder, set as PROMETHEUS_MULTIPROC_DIR before prometheus_client is imported."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tmp
        yield tmp


def _report(label: str, cpu: dict[str, list[float]], args: argparse.Namespace) -> None:
    """Medians of each, and the median of the rounds' ratios: each round's bare and ours ran
    back to back, so a neighbour's load shifts both and their ratio less than either."""
    ours, bare = (statistics.median(cpu[name]) for name in ("ours", "bare"))
    ratios = sorted(o / b for o, b in zip(cpu["ours"], cpu["bare"], strict=True))
    per = 1e6 / args.requests
    print(f"CPU per request, {label}, {args.requests} requests of the 80/20 mix,", end=" ")
    print(f"median of {args.rounds} rounds:")
    print(f"  ours {ours * per:.0f} us, bare {bare * per:.0f} us,", end=" ")
    print(f"ours/bare {statistics.median(ratios):.2f}x ({ratios[0]:.2f}-{ratios[-1]:.2f}x)")
    fastest = {name: min(cpu[name]) * per for name in ("ours", "bare")}  # least disturbed
    print(
        f"  fastest rounds: ours {fastest['ours']:.0f} us, bare {fastest['bare']:.0f} us,", end=" "
    )
    print(f"ours/bare {fastest['ours'] / fastest['bare']:.2f}x")


def in_process(args: argparse.Namespace) -> None:
    with metrics_dir("onebox-profile-") as tmp:
        from bench.bare_app import create_app as create_bare
        from service.web import create_app

        apps: dict[str, Any] = {
            "ours": create_app({"DATABASE": f"{tmp}/ours.db", "ENV": "test"}),
            "bare": create_bare(f"{tmp}/bare.db"),
        }
        built = environs(plan(args.requests))
        cpu: dict[str, list[float]] = {"ours": [], "bare": []}
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            for app in apps.values():
                _store_users(app.test_client())
                serve(app, built[:300])  # warm-up
            for _ in range(args.rounds):
                for name in ("bare", "ours"):
                    cpu[name].append(serve(apps[name], built))
            profile = cProfile.Profile()
            profile.runcall(serve, apps["ours"], built)
    _report("WSGI calls in process", cpu, args)
    per = 1e6 / args.requests
    total = pstats.Stats(profile).total_tt  # type: ignore[attr-defined]
    print(f"ours, cumulative time per request by step (under cProfile: {total * per:.0f} us")
    print("in all, so each figure is inflated about as much as that total is):")
    print("\n".join(_step_table(pstats.Stats(profile), args.requests)))


def _send(port: int, requests: list[Request]) -> None:
    """Each request on a connection of its own, as the fixed-rate load sends them."""
    for sent in requests:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Content-Type": "application/json"} if sent.data else {}
        conn.request(sent.method, sent.path, body=sent.data, headers=headers)
        reply = conn.getresponse()
        reply.read()
        conn.close()
        if reply.status != 200:
            raise RuntimeError(f"{sent.method} {sent.path}: {reply.status}")


def under_gunicorn(args: argparse.Namespace) -> None:
    from bench.mix import store_users
    from bench.servers import serve as serve_gunicorn

    requests = plan(args.requests)
    cpu: dict[str, list[float]] = {"ours": [], "bare": []}
    with (
        tempfile.TemporaryDirectory(prefix="onebox-profile-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        servers = {n: stack.enter_context(serve_gunicorn(n, Path(tmp))) for n in cpu}
        for server in servers.values():
            store_users(server.url)
            _send(server.port, requests[:300])  # warm-up
        for _ in range(args.rounds):
            for name in ("bare", "ours"):
                before = servers[name].cpu_seconds()
                _send(servers[name].port, requests)
                time.sleep(0.2)  # let the last request's log line and metrics land
                cpu[name].append(servers[name].cpu_seconds() - before)
    _report("gunicorn master + workers, a connection per request", cpu, args)


def activity_at_rate(rate: int = 50, users: int = 500, seconds: int = 120) -> None:
    """One worker's activity tracking (of 2 at 100 req/s, over the load benchmark's users) on
    a simulated clock, so its resolution and its flushes play out as at that rate."""
    from service.db import SqliteStore
    from service.web.activity import FLUSH_SECONDS, ActivityTracker

    rng = random.Random(1)
    sent = [pick(rng, users).user for _ in range(rate * seconds)]
    now, writes = 1e6, 0
    with tempfile.TemporaryDirectory(prefix="onebox-activity-") as tmp:
        store = SqliteStore(f"{tmp}/activity.db")
        store.migrate()
        record = store.record_activity

        def counted(batch: Any, since: float) -> Any:
            nonlocal writes
            writes += 1
            return record(batch, since)

        store.record_activity = counted  # type: ignore[method-assign]
        tracker = ActivityTracker(store, clock=lambda: now, flush_seconds=3600)  # flushed below
        started, flushed = time.thread_time(), now
        for user in sent:
            now += 1 / rate
            tracker.seen(user)
            if now - flushed >= FLUSH_SECONDS:  # what the tracker's thread does
                tracker.flush()
                flushed = now
        spent = time.thread_time() - started
        store.close()
    print(f"activity tracking, {len(sent)} requests at {rate}/s over {users} users:", end=" ")
    print(f"{writes} store writes, {spent / len(sent) * 1e6:.1f} us CPU per request")


def main() -> None:
    args = arguments(__doc__ or "")
    if args.activity:
        activity_at_rate()
    elif args.gunicorn:
        under_gunicorn(args)
    else:
        in_process(args)


if __name__ == "__main__":
    main()
