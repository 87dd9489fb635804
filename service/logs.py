"""Structured logs: one JSON object per line on stdout, for requests, events and errors.

Request lines carry the field names of docs/api.md's table exactly, so
`journalctl -u onebox -o cat | jq 'select(.isSlowRequest)'` works. Every line, request, event
or gunicorn's own, says which program wrote it: `service`, `version` and `environment`, set by
`configure` (from APP_VERSION and APP_ENV unless given), right after its `timestamp`.
gunicorn's own messages go through the same formatter (see gunicorn.conf.py), so every line the
unit writes is JSON.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REQUEST_LOGGER = "onebox.request"
EVENT_LOGGER = "onebox.event"
_ONEBOX = logging.getLogger("onebox")
_REQUESTS = logging.getLogger(REQUEST_LOGGER)

SERVICE = "onebox"
REPOSITORY = Path(__file__).resolve().parent.parent  # where "our code" is, for fingerprints
IDENTITY_FIELDS = ("service", "version", "environment")
# Who writes the lines; replaced by configure(). One dict read per line, never rebuilt there.
_identity: dict[str, str] = {"service": SERVICE, "version": "dev", "environment": "production"}

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
                **_identity,
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": record.getMessage(),
            }
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            fields = {
                **fields,
                "fingerprint": fingerprint(exc),  # any logged exception groups, gunicorn's too
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


def identity(
    service: str = SERVICE, version: str | None = None, environment: str | None = None
) -> dict[str, str]:
    """The identity fields of every line; version and environment default to APP_* values."""
    return {
        "service": service,
        "version": _setting("APP_VERSION") if version is None else version,
        "environment": _setting("APP_ENV") if environment is None else environment,
    }


def _setting(env: str) -> str:
    """One setting's value in this process's environment, parsed as create_app parses it."""
    from service.config import SETTINGS, ConfigError  # imported late: config is not a log need

    (setting,) = [s for s in SETTINGS if s.env == env]
    raw = os.environ.get(env, setting.default)
    try:
        return str(setting.parse(raw))
    except ValueError as exc:
        raise ConfigError(f"{env}={raw!r}: {exc}") from None


def configure(
    service: str = SERVICE, version: str | None = None, environment: str | None = None
) -> None:
    """Send the onebox loggers to stdout as JSON lines, each naming this program; idempotent
    but for the identity, which each call sets (a reloaded worker may run a new version)."""
    global _handler, _identity
    _identity = identity(service, version, environment)
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
    record = {"timestamp": utc_timestamp(), **_identity, **fields}
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
    line = _ENCODER.encode({"timestamp": utc_timestamp(), **_identity, **fields}) + "\n"
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


def fingerprint(exc: BaseException) -> str:
    """12 hex digits that name a bug: the exception's type and the innermost frame of the
    repository's own code (its file, relative to the repository, and its function).

    Line numbers are left out, so a release that only moves code keeps its errors' groups; the
    message is left out, so the same bug with other values (ids, paths) is one group.
    """
    kind = type(exc)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    where = "<no frame of ours>"
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        path = Path(frame.f_code.co_filename).resolve()  # the box runs code through a symlink
        if path.is_relative_to(REPOSITORY) and "site-packages" not in path.parts:
            where = f"{path.relative_to(REPOSITORY).as_posix()}:{frame.f_code.co_qualname}"
    return hashlib.sha256(f"{name}|{where}".encode()).hexdigest()[:12]


def log_exception(exc: BaseException, **fields: Any) -> None:
    """Log an unexpected exception with its stack trace and fingerprint, as JSON."""
    record = {
        "timestamp": utc_timestamp(),
        **_identity,
        "level": "error",
        "event": "unhandled_exception",
    }
    logging.getLogger(EVENT_LOGGER).error(
        "unhandled_exception",
        exc_info=(type(exc), exc, exc.__traceback__),
        extra={"fields": {**record, **fields}},
    )
