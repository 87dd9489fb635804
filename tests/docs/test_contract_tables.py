"""The tables docs/ shows of the contract are the contract: routes, log fields, metrics, costs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask import Flask

from infra import costs
from service.contract import ALARMS, CLOUDWATCH_METRICS
from service.web import create_app
from tests.docs.documents import table_rows
from tests.support import ROOT

DOCS = ROOT / "docs"


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return create_app({"DATABASE": str(tmp_path / "docs.db"), "ENV": "test"})


def test_the_endpoint_table_is_every_route_the_app_serves(app: Flask) -> None:
    served = {
        (method, re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    rows = table_rows((DOCS / "api.md").read_text(), r"`[A-Z]+`")
    assert {(m.strip("`"), p.strip("`")) for m, p, _ in rows} == served


def test_the_log_field_table_is_what_a_request_line_carries(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    app.test_client().get("/api/users/alice/state", headers={"traceparent": traceparent})
    (line,) = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.strip()]
    rows = table_rows((DOCS / "api.md").read_text(), r"`[a-z]\w*`.*")
    documented = {name for first, _ in rows for name in re.findall(r"`(\w+)`", first)}
    assert documented == set(line)


def test_the_publisher_table_is_the_contract_s_metrics_and_units() -> None:
    rows = table_rows((DOCS / "monitoring.md").read_text(), r"`(?!Onebox)[A-Z]\w+`")
    assert {name.strip("`"): unit for name, unit, _ in rows} == CLOUDWATCH_METRICS


def test_each_prometheus_alert_mirrors_the_alarm_the_contract_names() -> None:
    rows = table_rows((DOCS / "monitoring.md").read_text(), r"`Onebox\w+`")
    documented = {alert.strip("`"): alarm.strip("`") for alert, _, alarm in rows}
    assert documented == {alert: a.key for a in ALARMS for alert in a.prometheus}


@pytest.mark.parametrize(("column", "tier"), [(1, "legacy"), (2, "none")])
def test_the_cost_table_totals_are_what_infra_costs_computes(column: int, tier: str) -> None:
    (total,) = table_rows((DOCS / "infrastructure.md").read_text(), r"\*\*total\*\*")
    computed = costs.total(costs.breakdown(costs.Usage(), tier))
    assert float(total[column].strip("*")) == computed


def test_the_stack_outputs_block_names_every_output_the_program_exports() -> None:
    program = (ROOT / "__main__.py").read_text()
    exported = set(re.findall(r'pulumi\.export\(\s*"([a-z_]+)"', program))
    section = (DOCS / "infrastructure.md").read_text().split("## Stack outputs", 1)[1]
    block = section.split("```text\n", 1)[1].split("```", 1)[0]
    documented = {line.split()[0] for line in block.splitlines() if line.strip()}
    assert documented == exported
