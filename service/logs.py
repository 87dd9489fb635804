"""Structured logs: one JSON object per line on stdout, for requests, events and errors.

Request lines carry the seed's field names exactly (timestamp, requestId, method, path,
statusCode, statusText, duration, durationSeconds, userId, isError, isSlowRequest,
isCriticalEndpoint), so `journalctl -u onebox -o cat | jq 'select(.isSlowRequest)'` works.
gunicorn's own messages go through the same formatter (see gunicorn.conf.py), so every line the
unit writes is JSON.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

REQUEST_LOGGER = "onebox.request"
EVENT_LOGGER = "onebox.event"


def utc_timestamp(epoch: float | None = None) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as in the seed's log lines."""
    moment = datetime.now(UTC) if epoch is None else datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
        return json.dumps(fields, default=str)


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stdout is at the time of each record, not at configure time."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def configure() -> None:
    """Send the onebox loggers to stdout as JSON lines; idempotent."""
    root = logging.getLogger("onebox")
    if any(getattr(h, "_onebox", False) for h in root.handlers):
        return
    handler = _StdoutHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler._onebox = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False


def log_fields(logger_name: str, fields: dict[str, Any], level: int = logging.INFO) -> None:
    """Log `fields` as one JSON line (a timestamp is put first if missing)."""
    record = {"timestamp": utc_timestamp(), **fields}
    logging.getLogger(logger_name).log(
        level, fields.get("event", "request"), extra={"fields": record}
    )


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
