"""The Grafana dashboard: the checked-in JSON is what the builder makes, it has the shape Grafana
imports, and promtool accepts every query."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from monitoring.grafana import dashboard
from service import contract
from tests.monitoring.real import promtool

# The fields Grafana needs to import a dashboard and draw its panels from Prometheus queries.
DATASOURCE = {
    "type": "object",
    "required": ["type", "uid"],
    "properties": {"type": {"const": "prometheus"}, "uid": {"type": "string"}},
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["uid", "title", "schemaVersion", "panels", "templating", "time"],
    "properties": {
        "uid": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,40}$"},
        "title": {"type": "string", "minLength": 1},
        "schemaVersion": {"type": "integer", "minimum": 30},
        "time": {
            "type": "object",
            "required": ["from", "to"],
            "properties": {"from": {"type": "string"}, "to": {"type": "string"}},
        },
        "templating": {
            "type": "object",
            "required": ["list"],
            "properties": {
                "list": {
                    "type": "array",
                    "items": {"type": "object", "required": ["name", "type"]},
                }
            },
        },
        "panels": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "type", "title", "gridPos", "datasource", "targets"],
                "properties": {
                    "id": {"type": "integer", "minimum": 1},
                    "type": {"enum": ["timeseries", "stat"]},
                    "title": {"type": "string", "minLength": 1},
                    "datasource": DATASOURCE,
                    "gridPos": {
                        "type": "object",
                        "required": ["h", "w", "x", "y"],
                        "properties": {
                            "h": {"type": "integer", "minimum": 1},
                            "w": {"type": "integer", "minimum": 1, "maximum": 24},
                            "x": {"type": "integer", "minimum": 0, "maximum": 23},
                            "y": {"type": "integer", "minimum": 0},
                        },
                    },
                    "fieldConfig": {
                        "type": "object",
                        "required": ["defaults"],
                        "properties": {
                            "defaults": {"type": "object", "required": ["unit"]},
                        },
                    },
                    "targets": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["refId", "expr", "datasource"],
                            "properties": {
                                "refId": {"type": "string", "pattern": "^[A-Z]$"},
                                "expr": {"type": "string", "minLength": 1},
                                "datasource": DATASOURCE,
                            },
                        },
                    },
                },
            },
        },
    },
}


def checked_in() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(dashboard.OUTPUT.read_text())
    return loaded


def expressions() -> dict[str, str]:
    """Every panel query, keyed by panel and refId."""
    return {
        f"{panel['title']} {target['refId']}": target["expr"]
        for panel in checked_in()["panels"]
        for target in panel["targets"]
    }


def test_the_checked_in_dashboard_is_what_the_builder_makes() -> None:
    assert dashboard.OUTPUT.read_text() == dashboard.render(), (
        "run .venv/bin/python -m monitoring.grafana.dashboard"
    )


def test_check_says_whether_the_file_is_up_to_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(dashboard, "OUTPUT", tmp_path / "onebox.json")
    assert dashboard.main([]) == 0
    assert dashboard.main(["--check"]) == 0
    (tmp_path / "onebox.json").write_text("{}\n")
    assert dashboard.main(["--check"]) == 1
    assert "onebox.json is out of date" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="usage:"):
        dashboard.main(["--force"])


def test_the_dashboard_has_the_shape_grafana_imports() -> None:
    jsonschema.validate(checked_in(), SCHEMA)
    panels = checked_in()["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    for panel in panels:
        box = panel["gridPos"]
        assert box["x"] + box["w"] <= 24, panel["title"]
    variables = {variable["name"] for variable in checked_in()["templating"]["list"]}
    assert all(panel["datasource"]["uid"] == "${datasource}" for panel in panels)
    assert variables == {"datasource"}


def test_the_schema_refuses_a_panel_without_queries() -> None:
    broken = checked_in()
    broken["panels"][0]["targets"] = []
    with pytest.raises(jsonschema.ValidationError, match="should be non-empty"):
        jsonschema.validate(broken, SCHEMA)


def test_promtool_accepts_every_panel_query(tmp_path: Path) -> None:
    # promtool checks PromQL without a server when it is a recording rule's expression.
    rules = [
        {"record": f"dashboard:panel_{number}", "expr": expr}
        for number, expr in enumerate(expressions().values())
    ]
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = promtool("check", "rules", str(path))
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout


def test_the_dashboard_shows_what_the_on_call_asks_for() -> None:
    queries = " ".join(expressions().values())
    for metric in (
        f"{contract.PROM_REQUESTS}_total",
        f"{contract.PROM_LATENCY}_bucket",
        contract.PROM_BACKUP_LAST_SUCCESS,
        "node_cpu_seconds_total",
        dashboard.ACTIVE_USERS,
    ):
        assert re.search(rf"\b{metric}\b", queries), metric
    budget = expressions()["Error budget left A"]
    assert f"[{contract.SLO_WINDOW_DAYS}d]" in budget
    assert budget.endswith(f" / {1 - contract.SLO_AVAILABILITY_PCT / 100:g}")
