"""gunicorn settings for the box (a t2.micro: 1 vCPU, 1 GiB) and the hooks that make shutdown
graceful and metrics correct across workers.

Run: gunicorn -c service/web/gunicorn.conf.py service.web.wsgi:app  (a --bind wins)
Under systemd the listening socket comes from onebox.socket and `bind` is not used.
"""

import importlib
import logging
import os
import shutil
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

from gunicorn import glogging

# prometheus_client picks its multiprocess mode when first imported, and the log formatter
# below imports the service package, so the directory must be named before anything else.
# The unit sets it under /run/onebox; elsewhere it is private to this master.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", f"/tmp/onebox-metrics-{os.getpid()}")  # noqa: S108

# -- release ---------------------------------------------------------------------------------
# The deploy agent writes VERSION into each release directory; this file is read again from the
# code directory on every HUP, so the new workers get the new release's APP_VERSION (gunicorn
# resets raw_env's variables and applies the new ones on reload). Outside a release: unchanged.
_version_file = Path("VERSION")
raw_env = [f"APP_VERSION={_version_file.read_text().strip()}"] if _version_file.is_file() else []

# -- serving ---------------------------------------------------------------------------------
bind = ["127.0.0.1:8000"]
# Two processes so one crash or one slow request never takes the box down; more would only
# contend for the one vCPU.
workers = 2
# No preload_app: each worker builds its app after the fork, so its database connections and,
# with tracing on, its span exporter's thread (service/web/tracing.py) are its own.
# sync, one request at a time per worker: nginx sits in front on the box (onebox.conf.template
# buffers every request body and response: proxy_request_buffering, proxy_buffering), which is
# what gunicorn's docs ask of sync workers, so slow or idle clients wait in nginx, not here.
# Measured by `python -m bench.box --variant ...` (the box as deployed against bare Flask under
# a t2.micro's 10 % CPU quota, one run on a shared VM): sync 140 req/s sustained against
# gthread with 2 threads 90 (bare Flask 170). gthread pays per request a poller registration
# and a hand-off to its thread pool (about a dozen futex calls, and it stays as dear per
# request at the quota as below it); sync accepts in a loop and gets cheaper as requests queue.
# threads must stay 1: gunicorn runs a sync worker with more threads as gthread.
worker_class = "sync"
threads = 1
# A worker silent this long is killed and replaced. Under sync that bounds one request too:
# the reading of it by CLIENT_READ_TIMEOUT (below), its serving by SQLite's busy_timeout (5 s).
timeout = 30
# gunicorn reads a request with a blocking socket and no deadline, so a client that reaches
# gunicorn itself (not through nginx), sends part of a request and stops would hold a worker
# forever. SO_RCVTIMEO on the listening socket (accepted sockets inherit it) ends each such read
# after this many seconds.
CLIENT_READ_TIMEOUT = 10
# SIGTERM lets in-flight requests finish for this long; onebox.service's TimeoutStopSec (45 s)
# is above it, so systemd never SIGKILLs a draining worker.
graceful_timeout = 30
keepalive = 5  # gthread only: sync closes every connection after its answer
# Bounds against slow or malicious clients; the API's bodies are tiny.
limit_request_line = 4094
limit_request_fields = 50
proc_name = "onebox"
# We signal gunicorn (HUP, TERM) through systemd; its control socket would only add a
# writable path and an interface to secure.
control_socket_disable = True

# -- logging: every line JSON (the app logs one line per request itself) ----------------------
accesslog = None
errorlog = "-"
loglevel = "info"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "service.logs.JsonFormatter"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"handlers": ["stderr"], "level": "WARNING"},
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
    },
}


class _NoAccessLog(glogging.Logger):  # type: ignore[misc]  # gunicorn ships no types
    """gunicorn's logger without its access log: the app writes one JSON line per request.

    With logconfig_dict set, gunicorn builds each request's access-log fields (about 16 us)
    before finding that gunicorn.access has no handler; this skips that work.
    """

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        return None


logger_class = _NoAccessLog


# -- hooks -----------------------------------------------------------------------------------
def on_starting(server: Any) -> None:
    """Master, once: a fresh metrics directory and the service's start time for every worker."""
    metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    # Values left by a previous run would be summed into this one's: start empty.
    shutil.rmtree(metrics_dir, ignore_errors=True)
    Path(metrics_dir).mkdir(mode=0o700, parents=True)
    os.environ["ONEBOX_STARTED_AT"] = str(time.time())


def on_reload(server: Any) -> None:
    """Master, on HUP, before new workers fork: forget the service's modules.

    The master imported `service` (the log formatter, the hooks); forked workers would inherit
    those modules and run the old release's code. Dropped here, each new worker imports the
    release now behind the code directory (the `current` symlink, which the unit names in PWD so
    gunicorn chdirs through the link, not to the release it resolved at start).
    """
    for name in [n for n in sys.modules if n == "service" or n.startswith("service.")]:
        del sys.modules[name]
    importlib.invalidate_caches()
    # The onebox log handler holds the old formatter; configure() installs the new one.
    events = logging.getLogger("onebox")
    for handler in [h for h in events.handlers if getattr(h, "_onebox", False)]:
        events.removeHandler(handler)
    from service.logs import configure

    configure()


def limit_client_reads(listeners: list[Any], seconds: int) -> None:
    """Give every connection accepted from `listeners` a receive timeout of `seconds`."""
    value = struct.pack("ll", seconds, 0)  # struct timeval
    for listener in listeners:
        listener.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)


def when_ready(server: Any) -> None:
    """Master: bound client reads; log shutdown_initiated when a stop signal arrives."""
    from service.logs import configure
    from service.web.shutdown import wrap_master_signal

    configure()
    limit_client_reads(server.LISTENERS, CLIENT_READ_TIMEOUT)
    # The arbiter looks its handlers up by name each time a signal is processed.
    for name in ("term", "int", "quit"):
        handler = getattr(server, f"handle_{name}")
        setattr(server, f"handle_{name}", wrap_master_signal(f"SIG{name.upper()}", handler))


def post_worker_init(worker: Any) -> None:
    """Worker: SIGTERM turns readiness off at once, then gunicorn drains as usual."""
    from service.web.shutdown import install_worker_handler

    install_worker_handler(worker.wsgi, lambda signum, frame: worker.handle_exit(signum, frame))


def worker_exit(server: Any, worker: Any) -> None:
    """Worker, after its last request: close the database and say so; send queued spans."""
    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        from service.web.shutdown import close

        close(app)


def child_exit(server: Any, worker: Any) -> None:
    """Master: a dead worker's live gauges must not be summed any more."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_exit(server: Any) -> None:
    """Master, last: shutdown_complete, and the metrics files go with the process."""
    from service.logs import configure, log_event

    configure()
    log_event("shutdown_complete", pid=os.getpid())
    shutil.rmtree(os.environ.get("PROMETHEUS_MULTIPROC_DIR", ""), ignore_errors=True)
