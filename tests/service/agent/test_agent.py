"""One run of `python -m service.agent` against moto, for the cases that need no live service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from service.agent.__main__ import main
from service.agent.layout import Layout
from tests.service.agent import releases
from tests.service.agent.conftest import Recorder, install

Publish = Callable[..., str]
BROKEN_IMPORT = {"service/web/health.py": ("import time\n", "import time\nimport no_such_module\n")}
NEW_PACKAGE = {"service/requirements.txt": ("boto3==", "requests==2.0.0\nboto3==")}


@dataclass
class Agent:
    """The box running its first release, and how to publish another and run the agent once."""

    box: Layout
    running: str  # the version installed before the test publishes anything
    publish: Publish
    env: Callable[..., None]
    recorder: Recorder

    def run(self, *argv: str, reload: str = "false", check: str = "20") -> int:
        """One agent run; reload="false" fails any run that gets as far as reloading."""
        self.env(reload=reload, check=check)
        return main(list(argv))

    def events(self) -> list[str]:
        return [str(fields["event"]) for fields in self.recorder.fields]

    def last_error(self) -> str:
        return str(self.recorder.fields[-1]["errorMessage"])

    def releases(self) -> list[str]:
        return sorted(p.name for p in self.box.releases.iterdir())


@pytest.fixture
def agent(
    box: Layout,
    tmp_path: Path,
    publish: Publish,
    agent_env: Callable[..., None],
    recorder: Recorder,
) -> Agent:
    running = install(box, releases.build(), tmp_path)
    return Agent(box, running, publish, agent_env, recorder)


def test_the_published_version_already_running_is_left_alone(agent: Agent) -> None:
    agent.publish(releases.build())
    assert agent.run() == 0
    assert agent.events() == ["release_unchanged"]
    assert agent.releases() == [agent.running]


def test_an_archive_that_does_not_match_its_digest_is_never_installed(agent: Agent) -> None:
    archive = releases.build(releases.MARKED)
    agent.publish(archive, sha256=releases.digest(archive + b"tampered"))
    assert agent.run() == 1
    assert agent.box.current_version() == agent.running
    assert agent.releases() == [agent.running]
    assert agent.events()[-1] == "deploy_failed"
    assert "sha256" in agent.last_error()


def test_a_release_that_cannot_be_imported_is_never_switched_to(agent: Agent) -> None:
    broken = agent.publish(releases.build(BROKEN_IMPORT))
    assert agent.run() == 1
    assert agent.box.current_version() == agent.running
    assert broken in agent.box.failed_versions()


def test_a_release_with_new_requirements_is_refused_because_a_reload_cannot_install_them(
    agent: Agent,
) -> None:
    agent.publish(releases.build(NEW_PACKAGE))
    assert agent.run() == 1
    assert agent.box.current_version() == agent.running
    assert "requirements.txt differs" in agent.last_error()


def test_a_release_with_changed_units_is_refused_because_they_need_a_new_box(
    agent: Agent,
) -> None:
    agent.publish(
        releases.build(
            {"service/deploy/onebox.service": ("TimeoutStopSec=45", "TimeoutStopSec=50")}
        )
    )
    assert agent.run() == 1
    assert agent.box.current_version() == agent.running
    assert "service/deploy/onebox.service differs" in agent.last_error()


def test_each_run_applies_changed_settings_first_and_logs_it(
    agent: Agent,
    aws: tuple[Any, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env_file, marker = tmp_path / "onebox.env", tmp_path / "restarted"
    env_file.write_text("APP_BACKUP_KEEP=7\n")
    aws[0].put_parameter(Name="/onebox/test/settings", Value="APP_BACKUP_KEEP=30\n", Type="String")
    monkeypatch.setenv("APP_SETTINGS_PARAMETER", "/onebox/test/settings")
    monkeypatch.setenv("APP_AGENT_ENV_FILE", str(env_file))
    monkeypatch.setenv("APP_AGENT_RESTART_COMMAND", f"touch {marker}")
    agent.publish(releases.build())
    assert agent.run() == 0
    assert agent.events() == ["settings_changed", "settings_applied", "release_unchanged"]
    assert agent.recorder.fields[0]["changed"] == ["APP_BACKUP_KEEP"]
    assert env_file.read_text() == "APP_BACKUP_KEEP=30\n" and marker.is_file()
    assert agent.run() == 0
    assert agent.events()[-2:] == ["settings_unchanged", "release_unchanged"]


def test_settings_that_cannot_be_applied_fail_the_run_but_not_the_deploy_check(
    agent: Agent, aws: tuple[Any, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_SETTINGS_PARAMETER", "/onebox/test/missing")
    monkeypatch.setenv("APP_AGENT_ENV_FILE", str(tmp_path / "onebox.env"))
    agent.publish(releases.build())
    assert agent.run() == 1
    assert agent.events() == ["settings_failed", "release_unchanged"]


def test_a_failed_reload_leaves_current_naming_the_release_still_running(agent: Agent) -> None:
    agent.publish(releases.build(releases.MARKED))
    assert agent.run() == 1
    assert agent.box.current_version() == agent.running


def test_a_release_that_never_gets_ready_is_rolled_back_and_not_retried_each_minute(
    agent: Agent,
) -> None:
    bad = agent.publish(releases.build(releases.MARKED))
    never_ready = {"reload": "true", "check": "0.5"}  # nothing answers on the agent's URL
    assert agent.run(**never_ready) == 1
    assert agent.box.current_version() == agent.running
    assert "release_rolled_back" in agent.events()
    assert agent.run(**never_ready) == 0
    assert agent.events()[-1] == "release_skipped"
    agent.recorder.fields.clear()
    assert agent.run("--force", **never_ready) == 1  # tried again (and it fails again here)
    assert "release_switched" in agent.events()
    assert agent.box.current_version() == agent.running
    assert bad in agent.box.failed_versions()


def test_a_missing_setting_is_a_usage_error_naming_it(
    box: Layout,
    monkeypatch: pytest.MonkeyPatch,
    recorder: Recorder,
) -> None:
    monkeypatch.delenv("APP_RELEASE_PARAMETER", raising=False)
    monkeypatch.setenv("APP_RELEASES_ROOT", str(box.root))
    assert main([]) == 2
    assert "APP_RELEASE_PARAMETER" in str(recorder.fields[-1]["error"])


def test_an_unknown_option_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--nope"])
    assert exit_.value.code == 2
