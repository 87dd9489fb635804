"""service/web/openapi.yaml and the running service agree on PostgreSQL too: the same
generated requests as tests/service/test_openapi.py, sent to gunicorn on a PostgreSQL store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from schemathesis import GenerationMode

from localbox.postgres import Postgres
from tests.service.conftest import Service, fresh_database, serving
from tests.service.test_openapi import _check_all, _runs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pg_service(
    postgres_server: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    with fresh_database(postgres_server) as url:
        yield from serving(tmp_path_factory, "openapi-postgres", APP_DATABASE_URL=url)


@pytest.mark.parametrize(("path", "method", "mode"), _runs())
def test_every_generated_request_gets_a_documented_answer_and_no_server_error(
    pg_service: Service, path: str, method: str, mode: GenerationMode
) -> None:
    _check_all(pg_service.url, path, method, mode)


def test_every_line_gunicorn_the_app_and_the_pool_write_is_json_naming_the_service(
    pg_service: Service,
) -> None:
    lines = pg_service.logs()  # parses every line: one that is not JSON fails here
    assert lines and all(line["service"] == "onebox" for line in lines)
