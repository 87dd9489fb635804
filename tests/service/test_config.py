"""The APP_* contract: parsed at start-up, bad values named, and the documented table kept equal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service import config, contract


def test_defaults_are_the_documented_objectives() -> None:
    values = config.defaults()
    assert values["SLOW_REQUEST_MS"] == 1000
    assert values["USER_LIMIT"] == 10
    assert values["ENV"] == "production"
    assert values["API_TOKEN"] == ""
    assert values["CORS_ORIGINS"] == ()
    assert values["TRUST_PROXY"] is False
    assert values["SLO_AVAILABILITY_PCT"] == contract.SLO_AVAILABILITY_PCT


def test_values_are_parsed_from_the_environment() -> None:
    values = config.from_environ(
        {"APP_USER_LIMIT": "25", "APP_CORS_ORIGINS": "https://a.example, https://b.example"}
    )
    assert values["USER_LIMIT"] == 25
    assert values["CORS_ORIGINS"] == ("https://a.example", "https://b.example")
    assert config.from_environ({"APP_TRUST_PROXY": " TRUE "})["TRUST_PROXY"] is True
    assert config.from_environ({"APP_SLO_AVAILABILITY_PCT": "99.9"})["SLO_AVAILABILITY_PCT"] == 99.9


@pytest.mark.parametrize(
    ("name", "raw", "why"),
    [
        ("APP_USER_LIMIT", "ten", "invalid literal"),
        ("APP_USER_LIMIT", "0", "positive"),
        ("APP_SLOW_REQUEST_MS", "-5", "positive"),
        ("APP_ENV", "prod", "one of"),
        ("APP_SLO_ERROR_RATE_PCT", "150", "percentage"),
        ("APP_SLO_AVAILABILITY_PCT", "0", "percentage"),
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


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ('parse = "no_such_parser"\ndefault = "1"', "parse='no_such_parser' is not a parser"),
        ('parse = "text"\ndefault = "{NO_SUCH_FACT}"', "default names no fact 'NO_SUCH_FACT'"),
    ],
)
def test_a_table_row_with_an_unknown_parser_or_fact_is_refused_naming_it(
    tmp_path: Path, row: str, message: str
) -> None:
    table = tmp_path / "settings.toml"
    table.write_text(f'[APP_X]\nkey = "X"\ndoc = "x"\n{row}\n')
    with pytest.raises(config.ConfigError, match=re.escape(f"settings.toml: APP_X: {message}")):
        config._load(table)


def test_a_default_that_names_a_fact_takes_it_from_the_contract() -> None:
    assert config.defaults()["RELEASES_ROOT"] == contract.BOX_ROOT
    assert config.defaults()["BACKUP_PREFIX"] == contract.BACKUP_PREFIX
