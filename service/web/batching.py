"""A batch written in the background: `flush()` every `flush_seconds` by a thread started on
first use (after gunicorn forks its workers, never at import), and once more at `close()`."""

from __future__ import annotations

import threading


class BackgroundFlush:
    """Subclasses say what `flush` writes; this runs it on time and at the end."""

    def __init__(self, flush_seconds: float, thread_name: str) -> None:
        self.flush_seconds = flush_seconds
        self._thread_name = thread_name
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        self._starting = threading.Lock()

    def flush(self) -> None:
        raise NotImplementedError

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
