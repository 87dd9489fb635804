"""The agent's settings: rows of the one APP_* contract, refused with the variable named."""

from __future__ import annotations

import pytest

from service import config
from service.agent.settings import AgentSettings
from service.contract import release_parameter

REQUIRED = {"APP_RELEASE_PARAMETER": release_parameter("dev"), "APP_BACKUP_BUCKET": "b"}


def agent_settings(environ: dict[str, str]) -> AgentSettings:
    return AgentSettings.from_config(config.from_environ(environ))


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "APP_RELEASE_PARAMETER is not set"),
        ({"APP_RELEASE_PARAMETER": release_parameter("dev")}, "APP_BACKUP_BUCKET is not set"),
        ({**REQUIRED, "APP_AGENT_KEEP": "1"}, "APP_AGENT_KEEP='1'"),
        ({**REQUIRED, "APP_AGENT_CHECK_SECONDS": "soon"}, "APP_AGENT_CHECK_SECONDS='soon'"),
        ({**REQUIRED, "APP_AGENT_CHECK_SECONDS": "0"}, "APP_AGENT_CHECK_SECONDS='0'"),
        ({**REQUIRED, "APP_AGENT_RELOAD_COMMAND": " "}, "APP_AGENT_RELOAD_COMMAND=' '"),
    ],
)
def test_bad_agent_settings_are_refused_naming_the_variable(
    env: dict[str, str], named: str
) -> None:
    with pytest.raises(config.ConfigError, match=named):
        agent_settings(env)


def test_the_agent_finds_the_service_port_from_the_metrics_url() -> None:
    settings = agent_settings({**REQUIRED, "APP_METRICS_URL": "http://127.0.0.1:8080/metrics"})
    assert settings.url == "http://127.0.0.1:8080"
    assert agent_settings({**REQUIRED, "APP_AGENT_URL": "http://127.0.0.1:81/"}).url == (
        "http://127.0.0.1:81"
    )


def test_the_agent_reads_its_values_from_the_same_table_as_every_other_process() -> None:
    settings = agent_settings(
        {**REQUIRED, "APP_AGENT_KEEP": "3", "APP_AGENT_CHECK_SECONDS": "2.5", "APP_USER_LIMIT": "4"}
    )
    assert (settings.parameter, settings.bucket) == (release_parameter("dev"), "b")
    assert (settings.keep, settings.check_seconds) == (3, 2.5)
    agent_keys = {"RELEASE_PARAMETER", "RELEASES_ROOT", "AGENT_URL", "AGENT_RELOAD_COMMAND"}
    assert agent_keys <= {setting.key for setting in config.SETTINGS}
