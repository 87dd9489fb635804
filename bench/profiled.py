"""The service's WSGI app with cProfile around every request: bench.flame's fallback where
py-spy cannot attach. gunicorn serves `bench.profiled:app`; each worker writes its profile to
$ONEBOX_PROFILE_DIR/worker-<pid>.pstats when it exits (gunicorn's workers exit by SystemExit,
so atexit runs).
"""

from __future__ import annotations

import atexit
import cProfile
import os
import pstats
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

PROFILE_DIR = "ONEBOX_PROFILE_DIR"
Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Profiled:
    """`inner` with cProfile around each call (not the response's iteration). One profiler
    per thread, since one cProfile.Profile cannot follow two threads at once (gthread); each
    counts its thread's CPU time, as py-spy counts on-CPU samples."""

    def __init__(self, inner: Wsgi) -> None:
        self.inner = inner
        self._local = threading.local()
        self._profiles: list[cProfile.Profile] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        profile = getattr(self._local, "profile", None)
        if profile is None:
            profile = self._local.profile = cProfile.Profile(time.thread_time)
            with self._lock:
                self._profiles.append(profile)
        profile.enable()
        try:
            return self.inner(environ, start_response)
        finally:
            profile.disable()

    def __getattr__(self, name: str) -> Any:
        """Everything else is the app's (gunicorn's hooks read the Flask app's extensions)."""
        return getattr(self.inner, name)

    def dump(self, folder: Path) -> Path | None:
        """Every thread's profile merged into folder/worker-<pid>.pstats; None if none ran."""
        with self._lock:
            profiles = [p for p in self._profiles if _ran(p)]
        if not profiles:
            return None
        path = folder / f"worker-{os.getpid()}.pstats"
        pstats.Stats(*profiles).dump_stats(path)
        return path


def _ran(profile: cProfile.Profile) -> bool:
    profile.create_stats()
    return bool(profile.stats)  # set by create_stats


def __getattr__(name: str) -> Profiled:
    """`app`: the service's app, profiled, built on first use (in the worker, after the fork)."""
    if name != "app":
        raise AttributeError(name)
    from service.web.wsgi import app as service_app

    profiled = Profiled(service_app)
    atexit.register(profiled.dump, Path(os.environ[PROFILE_DIR]))
    globals()["app"] = profiled
    return profiled
