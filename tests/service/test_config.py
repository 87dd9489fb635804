"""The APP_* contract: parsed at start-up, bad values named, and the documented table kept equal."""

from __future__ import annotations

import pytest

from service import config


def test_defaults_are_the_documented_objectives() -> None:
    values = config.defaults()
    assert values["SLOW_REQUEST_MS"] == 1000
    assert values["USER_LIMIT"] == 10
    assert values["ENV"] == "production"
    assert values["API_TOKEN"] == ""
    assert values["CORS_ORIGINS"] == ()
    assert values["TRUST_PROXY"] is False


def test_values_are_parsed_from_the_environment() -> None:
    values = config.from_environ(
        {"APP_USER_LIMIT": "25", "APP_CORS_ORIGINS": "https://a.example, https://b.example"}
    )
    assert values["USER_LIMIT"] == 25
    assert values["CORS_ORIGINS"] == ("https://a.example", "https://b.example")
    assert config.from_environ({"APP_TRUST_PROXY": " TRUE "})["TRUST_PROXY"] is True


@pytest.mark.parametrize(
    ("name", "raw", "why"),
    [
        ("APP_USER_LIMIT", "ten", "invalid literal"),
        ("APP_USER_LIMIT", "0", "positive"),
        ("APP_SLOW_REQUEST_MS", "-5", "positive"),
        ("APP_ENV", "prod", "one of"),
        ("APP_SLO_ERROR_RATE_PCT", "150", "percentage"),
        ("APP_MAX_BODY_BYTES", "", "invalid literal"),
        ("APP_TRUST_PROXY", "yes", "true or false"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable_and_the_value(
    name: str, raw: str, why: str
) -> None:
    with pytest.raises(config.ConfigError) as caught:
        config.from_environ({name: raw})
    message = str(caught.value)
    assert message.startswith(f"{name}={raw!r}")
    assert why in message
