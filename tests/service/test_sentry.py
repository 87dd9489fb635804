"""Optional Sentry: off (and not imported) by default; on with a DSN file, an unhandled exception
reaches Sentry's transport with the release and the environment, and the DSN is never logged."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from service.values import ConfigError
from service.web import create_app
from service.web.errors import SENTRY_EXTENSION
from tests.support import ROOT

DSN = "https://public0key@o1.ingest.sentry.io/42"


def _explode(*args: object) -> None:
    raise RuntimeError("boom from a view")


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[tuple[Flask, list[Any]]]:
    sentry_sdk = pytest.importorskip("sentry_sdk")
    from sentry_sdk.transport import Transport

    envelopes: list[Any] = []

    class Recording(Transport):  # the SDK's transport interface, recording instead of sending
        def capture_envelope(self, envelope: Any) -> None:
            envelopes.append(envelope)

    dsn_file = tmp_path / "sentry-dsn"
    dsn_file.write_text(DSN + "\n")
    app = create_app(
        {
            "DATABASE": str(tmp_path / "app.db"),
            "ENV": "staging",
            "VERSION": "v1.2.3",
            "SENTRY_DSN_FILE": str(dsn_file),
            "SENTRY_TRANSPORT": Recording,
        }
    )
    try:
        yield app, envelopes
    finally:
        sentry_sdk.get_client().close()  # the SDK is per process: later tests start without it
        sentry_sdk.init()  # no DSN: a disabled client
        app.extensions["onebox"].activity.close()
        app.extensions["onebox"].store.close()


def _events(envelopes: list[Any]) -> list[dict[str, Any]]:
    return [
        item.payload.json
        for envelope in envelopes
        for item in envelope.items
        if item.type == "event"
    ]


def test_an_unhandled_exception_reaches_sentry_with_release_and_environment(
    recorded: tuple[Flask, list[Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    app, envelopes = recorded
    app.extensions["onebox"].store.get_state = _explode
    response = app.test_client().get("/api/users/x/state")
    assert response.status_code == 500
    assert response.get_json()["error"] == "internal_error"  # the API's answer is unchanged
    import sentry_sdk

    sentry_sdk.flush()
    (event,) = _events(envelopes)
    assert event["release"] == "v1.2.3" and event["environment"] == "staging"
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "RuntimeError" and exception["value"] == "boom from a view"
    assert event["request"]["url"].endswith("/api/users/x/state")
    assert "public0key" not in capsys.readouterr().out  # the DSN is never logged


def test_client_errors_are_not_reported(recorded: tuple[Flask, list[Any]]) -> None:
    app, envelopes = recorded
    assert app.test_client().get("/api/users/nobody/state").status_code == 404
    assert app.test_client().get("/api/users/bad%20id/state").status_code == 400
    import sentry_sdk

    sentry_sdk.flush()
    assert _events(envelopes) == []


def test_a_dsn_file_that_does_not_exist_leaves_sentry_off(tmp_path: Path) -> None:
    app = create_app(
        {
            "DATABASE": str(tmp_path / "app.db"),
            "ENV": "test",
            "SENTRY_DSN_FILE": str(tmp_path / "absent"),
        }
    )
    try:
        assert SENTRY_EXTENSION not in app.extensions
    finally:
        app.extensions["onebox"].activity.close()
        app.extensions["onebox"].store.close()


def test_an_unreadable_dsn_file_stops_the_start_naming_it(tmp_path: Path) -> None:
    directory = tmp_path / "a-directory"
    directory.mkdir()
    with pytest.raises(ConfigError, match="APP_SENTRY_DSN_FILE="):
        create_app({"DATABASE": str(tmp_path / "app.db"), "SENTRY_DSN_FILE": str(directory)})


def test_with_sentry_off_no_process_imports_sentry_sdk(tmp_path: Path) -> None:
    program = (
        "import sys\n"
        "from service.web import create_app\n"
        f"app = create_app({{'DATABASE': {str(tmp_path / 'off.db')!r}, 'ENV': 'test'}})\n"
        "app.extensions['onebox'].store.get_state = lambda *a: 1 / 0\n"
        "app.test_client().get('/api/users/x/state').close()\n"
        "print(sorted(name for name in sys.modules if name.startswith('sentry_sdk')))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1].replace("'", '"')) == []
