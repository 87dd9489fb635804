"""APP_DATABASE_URL: a postgresql:// URL naming a host and a database, or empty for SQLite."""

from __future__ import annotations

import pytest

from service import config


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("mysql://app@db/onebox", "postgresql://"),
        ("onebox.db", "postgresql://"),
        ("postgresql:///onebox", "must name a host"),
        ("postgresql://app@db:5432/", "must name a host and a database"),
        ("postgresql://app@db:port/onebox", "postgresql:// URL"),
    ],
)
def test_a_malformed_database_url_is_refused_saying_what_it_expects(raw: str, why: str) -> None:
    with pytest.raises(config.ConfigError, match="APP_DATABASE_URL") as caught:
        config.from_environ({"APP_DATABASE_URL": raw})
    assert why in str(caught.value)


@pytest.mark.parametrize(
    "raw",
    [
        "postgresql://onebox@10.0.1.5:5432/onebox",
        "postgres://onebox@db.internal/onebox?passfile=/run/onebox/pgpass&sslmode=require",
    ],
)
def test_a_postgresql_url_is_kept_as_given(raw: str) -> None:
    assert config.from_environ({"APP_DATABASE_URL": f" {raw} "})["DATABASE_URL"] == raw


def test_empty_means_sqlite() -> None:
    assert config.from_environ({})["DATABASE_URL"] == ""
    assert config.from_environ({"APP_DATABASE_URL": " "})["DATABASE_URL"] == ""
