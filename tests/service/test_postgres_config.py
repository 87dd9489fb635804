"""APP_DATABASE_URL: a postgresql:// URL naming a host and a database, or empty for SQLite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from service import config
from tests.support import ROOT


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


def test_an_app_on_sqlite_never_loads_psycopg(tmp_path: Path) -> None:
    """The single box runs exactly as before: the PostgreSQL driver stays unloaded."""
    code = (
        "import sys; from service.web import create_app; "
        f"app = create_app({{'DATABASE': {str(tmp_path / 'app.db')!r}, 'ENV': 'test'}}); "
        "print(sorted(m for m in sys.modules if m.startswith('psycopg')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_a_bad_database_url_is_named_without_its_password() -> None:
    with pytest.raises(config.ConfigError) as caught:
        config.from_environ({"APP_DATABASE_URL": "mysql://onebox:s3cret-pw@db.example/onebox"})
    message = str(caught.value)
    assert "APP_DATABASE_URL" in message
    assert "s3cret-pw" not in message
    assert "onebox:***@db.example/onebox" in message
