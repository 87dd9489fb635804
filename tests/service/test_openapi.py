"""service/web/openapi.yaml and the running service agree.

A property-based run (schemathesis) drives a live gunicorn, started exactly as
service/deploy/onebox.service starts it, with valid and invalid requests generated from the
document, and checks every answer: no 5xx, a documented status, a documented content type,
the documented headers (X-Request-ID) and a body that matches its schema. Another test checks
that the routes Flask registers and the operations the document lists are the same set.

schemathesis' own pytest plugin (`schema.parametrize`) does not run under pytest 9.2 (it reads
the removed `Function._nodeid`), so each operation is driven here with its hypothesis strategy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
import yaml
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode

from tests.service.conftest import Service, serving
from tests.support import ROOT

SPEC = ROOT / "service" / "web" / "openapi.yaml"
SCHEMA = schemathesis.openapi.from_path(SPEC)
# Per operation and mode: 14 runs x 60 examples take about 10 s on 2 cores.
MAX_EXAMPLES = 60
# Flask answers these on every route by itself (HEAD for GET, OPTIONS for CORS preflight);
# the document says so once in its description instead of listing them on every path.
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}
HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}
TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def live_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    yield from serving(tmp_path_factory, "openapi")


@pytest.fixture(scope="module")
def guarded_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    yield from serving(tmp_path_factory, "openapi-token", APP_API_TOKEN=TOKEN)


def _operations() -> list[Any]:
    return [result.ok() for result in SCHEMA.get_all_operations()]


def _runs() -> list[Any]:
    """(path, method, mode): invalid requests only where there is something to violate."""
    runs = []
    for operation in _operations():
        modes = [GenerationMode.POSITIVE]
        # The only parameter of the other operations, X-Request-ID, accepts any string.
        if operation.body or operation.path_parameters:
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            label = f"{operation.method.upper()} {operation.path} {mode.value}"
            runs.append(pytest.param(operation.path, operation.method.upper(), mode, id=label))
    return runs


def _guarded() -> list[Any]:
    """The operations the document puts behind the bearer token: reads of a user's state and
    the JSON summary too, not only writes."""
    return [
        pytest.param(op.path, op.method.upper(), id=f"{op.method.upper()} {op.path}")
        for op in _operations()
        if any("bearerAuth" in option for option in op.definition.raw.get("security", []))
    ]


def test_the_document_guards_every_user_route_and_the_json_summary() -> None:
    guarded = {param.values[:2] for param in _guarded()}
    users = {(op.path, op.method.upper()) for op in _operations() if "/users/" in op.path}
    assert users | {("/api/metrics", "GET")} == guarded


def _check_all(base_url: str, path: str, method: str, mode: GenerationMode) -> None:
    """Send MAX_EXAMPLES generated requests to one operation and validate every answer."""
    operation = SCHEMA[path][method]

    # derandomize: the same examples on every run, so a failure replays as it was seen
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Case) -> None:
        case.call_and_validate(base_url=base_url, timeout=10)

    check()


@pytest.mark.slow
@pytest.mark.parametrize(("path", "method", "mode"), _runs())
def test_every_generated_request_gets_a_documented_answer_and_no_server_error(
    live_service: Service, path: str, method: str, mode: GenerationMode
) -> None:
    _check_all(live_service.url, path, method, mode)


@pytest.mark.slow
@pytest.mark.parametrize(("path", "method"), _guarded())
def test_with_a_token_set_requests_without_it_get_the_documented_401(
    guarded_service: Service, path: str, method: str
) -> None:
    _check_all(guarded_service.url, path, method, GenerationMode.POSITIVE)
    exposition = requests.get(f"{guarded_service.url}/metrics", timeout=5).text
    series = f'method="{method}",route="{path.replace("{userId}", "<userId>")}"'
    assert f'{series},status="401"' in exposition
    assert f'{series},status="200"' not in exposition, "a request got through without the token"
    assert f'{series},status="404"' not in exposition, "a read told whether a user exists"


@pytest.mark.slow
def test_a_lone_surrogate_in_a_string_field_is_a_400_not_a_500(live_service: Service) -> None:
    body = '{"deviceId": "\\ud800", "deviceLabel": "x"}'  # JSON text, escape kept as written
    response = requests.patch(
        f"{live_service.url}/api/users/surrogate/device",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_field"


def _document_operations() -> set[tuple[str, str]]:
    paths: dict[str, dict[str, Any]] = yaml.safe_load(SPEC.read_text())["paths"]
    return {
        (path, method.upper())
        for path, item in paths.items()
        for method in item
        if method in HTTP_METHODS
    }


def _app_operations(app: Flask) -> set[tuple[str, str]]:
    operations = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        operations |= {(path, method) for method in (rule.methods or set()) - IMPLICIT_METHODS}
    return operations


def test_every_route_the_app_registers_is_documented_and_nothing_else(app: Flask) -> None:
    documented, served = _document_operations(), _app_operations(app)
    assert served - documented == set(), "routes missing from service/web/openapi.yaml"
    assert documented - served == set(), "operations in service/web/openapi.yaml the app lacks"
