"""Health: the detailed check, plus liveness and readiness probes.

/api/health        status, uptime, database (kind, mode, latency), memory, environment; 503 if
                   the database does not answer or cannot take writes
/api/health/live   the process answers; never touches the database
/api/health/ready  the database takes writes (SQLite: from the file the store opened, which is
                   still there and writable; PostgreSQL: the server answers and is neither in
                   recovery nor read-only), and the process is not shutting down; 503 with the
                   reason otherwise
The database's mode is read after the ping: a PostgreSQL server's can change (a failover).
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, jsonify

from service.logs import utc_timestamp
from service.store import StoreError
from service.web import runtime
from service.web.process import format_duration, peak_rss_mb, rss_mb

bp = Blueprint("health", __name__, url_prefix="/api/health")


def _reply(http_status: int, **body: object) -> Response:
    response = jsonify(body)
    response.status_code = http_status
    response.headers["Cache-Control"] = "no-store"
    return response


def _ping() -> tuple[float | None, str | None]:
    """Database latency in ms, or the reason it failed."""
    started = time.perf_counter()
    try:
        runtime.current().store.ping()
    except StoreError as exc:
        return None, str(exc)
    return round((time.perf_counter() - started) * 1000, 3), None


@bp.get("")
def health() -> Response:
    rt = runtime.current()
    latency_ms, problem = _ping()
    uptime = time.time() - rt.started_at
    database: dict[str, object] = {
        "status": "connected" if problem is None else "error",
        "type": rt.store.kind,
        "mode": rt.store.mode,
        "latencyMs": latency_ms,
    }
    if problem is not None:
        database["error"] = problem
    return _reply(
        200 if problem is None else 503,
        status="ok" if problem is None else "error",
        timestamp=utc_timestamp(),
        uptime={"seconds": int(uptime), "formatted": format_duration(uptime)},
        database=database,
        memory={"rssMb": rss_mb(), "peakRssMb": peak_rss_mb()},
        environment=rt.config["ENV"],
        version=rt.config["VERSION"],
    )


@bp.get("/live")
def live() -> Response:
    return _reply(200, status="alive", timestamp=utc_timestamp())


@bp.get("/ready")
def ready() -> Response:
    if runtime.current().shutting_down.is_set():
        return _reply(503, status="shutting_down", timestamp=utc_timestamp())
    latency_ms, problem = _ping()
    if problem is not None:
        return _reply(503, status="unavailable", reason=problem, timestamp=utc_timestamp())
    return _reply(200, status="ready", databaseLatencyMs=latency_ms, timestamp=utc_timestamp())
