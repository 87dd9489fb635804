"""The request instrumentation's cheap paths write exactly what the general paths wrote."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from service import logs
from service.contract import PROM_REQUESTS
from service.web.metrics import Metrics

FIELDS: dict[str, Any] = {"requestId": "r-1", "method": "GET", "statusCode": 200, "userId": None}


def test_a_request_line_is_the_line_the_logging_path_writes(
    client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.log_request(dict(FIELDS))
    logs.log_fields(logs.REQUEST_LOGGER, dict(FIELDS))
    fast, slow = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert list(fast) == list(slow) == ["timestamp", *logs.IDENTITY_FIELDS, *FIELDS]
    assert {**fast, "timestamp": None} == {**slow, "timestamp": None}


def test_request_lines_obey_the_request_loggers_level(
    client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    requests = logging.getLogger(logs.REQUEST_LOGGER)
    requests.setLevel(logging.WARNING)
    try:
        client.get("/api/health/live")
    finally:
        requests.setLevel(logging.NOTSET)
    assert capsys.readouterr().out == ""


def test_request_lines_fall_back_to_logging_while_no_onebox_handler_is_installed(
    client: FlaskClient, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    onebox = logging.getLogger("onebox")
    handlers = list(onebox.handlers)
    for handler in handlers:
        onebox.removeHandler(handler)
    onebox.propagate = True  # so caplog, on the root logger, sees the record
    try:
        with caplog.at_level(logging.INFO, logger=logs.REQUEST_LOGGER):
            logs.log_request(dict(FIELDS))
    finally:
        onebox.propagate = False
        for handler in handlers:
            onebox.addHandler(handler)
    assert capsys.readouterr().out == ""
    (record,) = caplog.records
    assert record.name == logs.REQUEST_LOGGER and record.fields["requestId"] == "r-1"  # type: ignore[attr-defined]


def test_timestamps_are_utc_with_milliseconds_and_follow_the_clock() -> None:
    before = datetime.now(UTC)
    stamps = [logs.utc_timestamp() for _ in range(3)]
    after = datetime.now(UTC)
    for stamp in stamps:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp), stamp
        moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        assert before - timedelta(milliseconds=1) <= moment <= after
    assert stamps == sorted(stamps)
    assert logs.utc_timestamp(0.5) == "1970-01-01T00:00:00.500Z"


def test_unknown_methods_share_one_series_and_every_request_is_counted() -> None:
    metrics = Metrics(slo_p95_seconds=1.0)
    for method in ("BREW", "PURGE", "BREW", "GET", "GET"):
        metrics.observe(method, "/x", 200, 0.002)
    metrics.observe("GET", "/x", 404, 0.002)
    counts = {
        (s.labels["method"], s.labels["status"]): s.value
        for family in metrics.families()
        for s in family.samples
        if s.name == f"{PROM_REQUESTS}_total"
    }
    assert counts == {("OTHER", "200"): 3.0, ("GET", "200"): 2.0, ("GET", "404"): 1.0}
