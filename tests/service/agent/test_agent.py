"""One run of `python -m service.agent` against moto, for the cases that need no live service."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from service.agent.__main__ import main
from service.agent.layout import Layout
from service.logs import EVENT_LOGGER
from tests.service.agent import releases
from tests.service.agent.conftest import install

Publish = Callable[..., str]
BROKEN_IMPORT = {"service/health.py": ("import time\n", "import time\nimport no_such_module\n")}
NEW_PACKAGE = {"service/requirements.txt": ("boto3==", "requests==2.0.0\nboto3==")}


class Recorder(logging.Handler):
    """Keeps the fields of every event the agent logs."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.fields.append(getattr(record, "fields", {}))


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    handler = Recorder()
    logger = logging.getLogger(EVENT_LOGGER)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def events(recorder: Recorder) -> list[dict[str, object]]:
    return recorder.fields


@pytest.fixture
def running(box: Layout, tmp_path: Path) -> str:
    """The version the box runs before the test's release is published."""
    return install(box, releases.build(), tmp_path)


def test_the_published_version_already_running_is_left_alone(
    box: Layout,
    running: str,
    publish: Publish,
    agent_env: Callable[..., None],
    recorder: Recorder,
) -> None:
    publish(releases.build())
    agent_env(reload="false")  # a reload would fail the run
    assert main([]) == 0
    assert [e["event"] for e in events(recorder)] == ["release_unchanged"]
    assert sorted(p.name for p in box.releases.iterdir()) == [running]


def test_an_archive_that_does_not_match_its_digest_is_never_installed(
    box: Layout,
    running: str,
    publish: Publish,
    agent_env: Callable[..., None],
    recorder: Recorder,
) -> None:
    archive = releases.build(releases.MARKED)
    publish(archive, sha256=releases.digest(archive + b"tampered"))
    agent_env(reload="false")
    assert main([]) == 1
    assert box.current_version() == running
    assert sorted(p.name for p in box.releases.iterdir()) == [running]
    failure = events(recorder)[-1]
    assert failure["event"] == "deploy_failed"
    assert "sha256" in str(failure["errorMessage"])


def test_a_release_that_cannot_be_imported_is_never_switched_to(
    box: Layout,
    running: str,
    publish: Publish,
    agent_env: Callable[..., None],
) -> None:
    broken = publish(releases.build(BROKEN_IMPORT))
    agent_env(reload="false")
    assert main([]) == 1
    assert box.current_version() == running
    assert broken in box.failed_versions()


def test_a_release_with_new_requirements_is_refused_because_a_reload_cannot_install_them(
    box: Layout,
    running: str,
    publish: Publish,
    agent_env: Callable[..., None],
    recorder: Recorder,
) -> None:
    publish(releases.build(NEW_PACKAGE))
    agent_env(reload="false")
    assert main([]) == 1
    assert box.current_version() == running
    assert "requirements.txt differs" in str(events(recorder)[-1]["errorMessage"])


def test_a_failed_reload_leaves_current_naming_the_release_still_running(
    box: Layout,
    running: str,
    publish: Publish,
    agent_env: Callable[..., None],
) -> None:
    publish(releases.build(releases.MARKED))
    agent_env(reload="false")
    assert main([]) == 1
    assert box.current_version() == running


def test_a_release_that_never_gets_ready_is_rolled_back_and_not_retried_each_minute(
    box: Layout,
    running: str,
    publish: Publish,
    agent_env: Callable[..., None],
    recorder: Recorder,
) -> None:
    bad = publish(releases.build(releases.MARKED))
    agent_env(reload="true", check="0.5")  # nothing answers on the agent's URL
    assert main([]) == 1
    assert box.current_version() == running
    assert "release_rolled_back" in [e["event"] for e in events(recorder)]
    assert main([]) == 0
    assert events(recorder)[-1]["event"] == "release_skipped"
    recorder.fields.clear()
    assert main(["--force"]) == 1  # --force tries it again (and it fails again here)
    assert "release_switched" in [e["event"] for e in events(recorder)]
    assert box.current_version() == running
    assert bad in box.failed_versions()


def test_a_missing_setting_is_a_usage_error_naming_it(
    box: Layout,
    monkeypatch: pytest.MonkeyPatch,
    recorder: Recorder,
) -> None:
    monkeypatch.delenv("APP_RELEASE_PARAMETER", raising=False)
    monkeypatch.setenv("APP_RELEASES_ROOT", str(box.root))
    assert main([]) == 2
    assert "APP_RELEASE_PARAMETER" in str(events(recorder)[-1]["error"])


def test_an_unknown_option_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--nope"])
    assert exit_.value.code == 2
