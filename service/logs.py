"""Structured logs: one JSON object per line on stdout, for requests, events and errors.

Request lines carry the field names of docs/api.md exactly (timestamp, requestId, method, path,
statusCode, statusText, duration, durationSeconds, userId, isError, isSlowRequest,
isCriticalEndpoint), so `journalctl -u onebox -o cat | jq 'select(.isSlowRequest)'` works.
gunicorn's own messages go through the same formatter (see gunicorn.conf.py), so every line the
unit writes is JSON.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from datetime import UTC, datetime
from typing import Any

REQUEST_LOGGER = "onebox.request"
EVENT_LOGGER = "onebox.event"
_ONEBOX = logging.getLogger("onebox")
_REQUESTS = logging.getLogger(REQUEST_LOGGER)

_ENCODER = json.JSONEncoder(default=str)  # json.dumps(default=...) builds a new one per call
# The formatted second of the last timestamp; requests share it, so strftime runs once a second.
_second: tuple[int, str] = (-1, "")


def utc_timestamp(epoch: float | None = None) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as in every log line."""
    if epoch is not None:
        moment = datetime.fromtimestamp(epoch, UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    global _second
    seconds, nanos = divmod(time.time_ns(), 1_000_000_000)
    cached_seconds, text = _second  # one read: another thread may replace it meanwhile
    if cached_seconds != seconds:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _second = (seconds, text)
    return f"{text}.{nanos // 1_000_000:03d}Z"


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON line.

    A record made by `log_fields` carries its fields in `record.fields` and is written as
    they are; any other record (gunicorn's, a library's) becomes {timestamp, level, logger,
    message}. An attached exception adds `error` and `stack`.
    """

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] | None = getattr(record, "fields", None)
        if fields is None:
            fields = {
                "timestamp": utc_timestamp(record.created),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": record.getMessage(),
            }
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            fields = {
                **fields,
                "error": type(exc).__name__,
                "errorMessage": str(exc),
                "stack": "".join(traceback.format_exception(exc)),
            }
        return _ENCODER.encode(fields)


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stdout is at the time of each record, not at configure time."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


_handler: _StdoutHandler | None = None  # the one configure() installed, for log_request


def configure() -> None:
    """Send the onebox loggers to stdout as JSON lines; idempotent."""
    global _handler
    root = logging.getLogger("onebox")
    if any(getattr(h, "_onebox", False) for h in root.handlers):
        return
    handler = _StdoutHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler._onebox = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False
    _handler = handler


def log_fields(logger_name: str, fields: dict[str, Any], level: int = logging.INFO) -> None:
    """Log `fields` as one JSON line (a timestamp is put first if missing)."""
    record = {"timestamp": utc_timestamp(), **fields}
    logging.getLogger(logger_name).log(
        level, fields.get("event", "request"), extra={"fields": record}
    )


def log_request(fields: dict[str, Any]) -> None:
    """Log one request line: what `log_fields(REQUEST_LOGGER, fields)` writes, made cheaper.

    A LogRecord per request (logger lookup, record attributes, formatter, filters) was a tenth
    of the service's CPU per request. The line is written here to the same stream, under the
    same handler lock (so it never interleaves with an event line), when the request logger is
    enabled, and through logging as usual while the onebox handler is not installed.
    """
    handler = _handler
    if handler is None or handler not in _ONEBOX.handlers:
        log_fields(REQUEST_LOGGER, fields)
        return
    if not _REQUESTS.isEnabledFor(logging.INFO):
        return
    line = _ENCODER.encode({"timestamp": utc_timestamp(), **fields}) + "\n"
    try:
        with handler.lock:  # type: ignore[union-attr]  # a Handler always has its lock
            stream = sys.stdout
            stream.write(line)
            stream.flush()
    except (OSError, ValueError):  # a closed or broken stdout: let logging report it as usual
        log_fields(REQUEST_LOGGER, fields)


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log a lifecycle event such as shutdown_initiated."""
    log_fields(EVENT_LOGGER, {"event": event, **fields}, level)


def log_exception(exc: BaseException, **fields: Any) -> None:
    """Log an unexpected exception with its stack trace, as JSON."""
    record = {"timestamp": utc_timestamp(), "level": "error", "event": "unhandled_exception"}
    logging.getLogger(EVENT_LOGGER).error(
        "unhandled_exception",
        exc_info=(type(exc), exc, exc.__traceback__),
        extra={"fields": {**record, **fields}},
    )
