"""A batch written in the background: `flush()` every `flush_seconds` by a thread started on
first use (after gunicorn forks its workers, never at import), and once more at `close()`."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

Batch = TypeVar("Batch")


class BackgroundFlush(Generic[Batch]):
    """Subclasses add to a batch under `_lock`, and say how to take it (`_take`, under the
    lock) and write it (`_write`); this runs the writes one at a time, on time and at the end."""

    def __init__(self, flush_seconds: float, thread_name: str) -> None:
        self.flush_seconds = flush_seconds
        self._thread_name = thread_name
        self._lock = threading.Lock()  # guards the batch
        self._flushing = threading.Lock()  # one batch in flight at a time, in order
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        self._starting = threading.Lock()

    def _take(self) -> Batch | None:
        """The batch waiting (emptied), or None when nothing waits; called under `_lock`."""
        raise NotImplementedError

    def _write(self, batch: Batch) -> None:
        """Write `batch` (outside `_lock`, so requests keep adding to the next one)."""
        raise NotImplementedError

    def flush(self) -> None:
        """Write what waits now, after any flush already under way."""
        with self._flushing:
            with self._lock:
                batch = self._take()
            if batch is not None:
                self._write(batch)

    def _added(self) -> None:
        """After a request added to the batch: start the flushing thread on first use."""
        if self._flusher is None:
            self._start_flusher()

    def _start_flusher(self) -> None:
        """Start the flushing thread unless it runs already or the batch is closing."""
        with self._starting:
            if self._flusher is not None or self._stop.is_set():
                return
            self._flusher = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
        self._flusher.start()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.flush()

    def close(self) -> None:
        """Stop the background flushes and write what is waiting."""
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(timeout=self.flush_seconds + 5)
        self.flush()
