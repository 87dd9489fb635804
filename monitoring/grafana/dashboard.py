"""The onebox Grafana dashboard as data, written to onebox.json.

Every query is plain PromQL over the series the service and node_exporter serve (no Grafana
variables inside them, so promtool can check each one); names, the objectives and the
textfile metric come from service.contract and service.config. Regenerate after a change:

    .venv/bin/python -m monitoring.grafana.dashboard          # writes onebox.json
    .venv/bin/python -m monitoring.grafana.dashboard --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from service import config, contract

OUTPUT = Path(__file__).with_name("onebox.json")
COMMAND = "python -m monitoring.grafana.dashboard"
UID = "onebox"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
REQUESTS = f'{contract.PROM_REQUESTS}_total{{job="{contract.PROM_JOB}"}}'
FAILED = f'{contract.PROM_REQUESTS}_total{{job="{contract.PROM_JOB}", status=~"5.."}}'
BUCKETS = f'{contract.PROM_LATENCY}_bucket{{job="{contract.PROM_JOB}"}}'
ACTIVE_USERS = "onebox_active_users"  # served by service/web/metrics_views.py
USER_LIMIT = "onebox_user_limit"
PANEL_HEIGHT = 8
GRID_WIDTH = 24
# The error budget's stat: red once spent, orange when a quarter is left, green above.
BUDGET_STEPS: list[dict[str, Any]] = [
    {"color": "red", "value": None},
    {"color": "orange", "value": 0},
    {"color": "green", "value": 0.25},
]


def error_ratio(window: str) -> str:
    """The 5xx share of requests per instance over `window`; 0, not missing, without errors
    (the same expression as the recorded ratios of onebox-rules.yml)."""
    return (
        f"sum by (instance) (rate({FAILED}[{window}]) or 0 * rate({REQUESTS}[{window}]))"
        f" / sum by (instance) (rate({REQUESTS}[{window}]))"
    )


def latency(quantile: float) -> str:
    return f"histogram_quantile({quantile}, sum by (instance, le) (rate({BUCKETS}[5m])))"


@dataclass(frozen=True)
class Target:
    legend: str
    expr: str


@dataclass(frozen=True)
class Panel:
    """One panel: a title, what it answers, its unit and queries, and the line it should stay
    under (drawn as a threshold), if any."""

    title: str
    description: str
    unit: str
    targets: tuple[Target, ...]
    limit: float | None = None
    kind: Literal["timeseries", "stat"] = "timeseries"
    width: int = 12


def panels() -> tuple[Panel, ...]:
    """The panels, in reading order."""
    settings = config.defaults()
    budget = 1 - contract.SLO_AVAILABILITY_PCT / 100
    window = f"{contract.SLO_WINDOW_DAYS}d"
    cpu_busy = '100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])))'
    return (
        Panel(
            "Requests",
            "Requests per second, by status code.",
            "reqps",
            (Target("{{status}}", f"sum by (status) (rate({REQUESTS}[5m]))"),),
        ),
        Panel(
            "Errors (5xx share)",
            "Share of requests answered with a 5xx; the line is the error-rate alarm's "
            f"{settings['SLO_ERROR_RATE_PCT']:g} %.",
            "percentunit",
            (Target("{{instance}}", error_ratio("5m")),),
            limit=settings["SLO_ERROR_RATE_PCT"] / 100,
        ),
        Panel(
            "Latency",
            "p50, p95 and p99 from the request histogram; the line is the p95 objective.",
            "s",
            tuple(Target(f"p{round(q * 100)}", latency(q)) for q in (0.5, 0.95, 0.99)),
            limit=settings["SLO_P95_MS"] / 1000,
        ),
        Panel(
            "Active users",
            "Distinct users seen in the last 5 minutes, and the users the box is sized for.",
            "short",
            (
                Target("active", f'{ACTIVE_USERS}{{job="{contract.PROM_JOB}"}}'),
                Target("sized for", f'{USER_LIMIT}{{job="{contract.PROM_JOB}"}}'),
            ),
        ),
        Panel(
            "Backup age",
            "Since the last good backup (node_exporter's textfile collector); the backup "
            "alert fires above the line.",
            "s",
            (Target("{{instance}}", f"time() - {contract.PROM_BACKUP_LAST_SUCCESS}"),),
            limit=contract.BACKUP_STALE_SECONDS,
        ),
        Panel(
            "CPU busy",
            "Host CPU busy, from node_exporter (a t2 instance's CPU credits are in CloudWatch "
            "only).",
            "percent",
            (Target("{{instance}}", cpu_busy),),
            limit=80,
        ),
        Panel(
            "Error budget left",
            f"Share of the {contract.SLO_WINDOW_DAYS}-day error budget ({100 * budget:g} % of "
            f"requests) not yet spent; below 0 the {contract.SLO_AVAILABILITY_PCT:g} % "
            "availability objective is missed.",
            "percentunit",
            (Target("{{instance}}", f"1 - ({error_ratio(window)}) / {budget:g}"),),
            kind="stat",
            width=GRID_WIDTH,
        ),
    )


def field_defaults(panel: Panel) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    if panel.limit is not None:
        steps.append({"color": "red", "value": panel.limit})
    defaults: dict[str, Any] = {"unit": panel.unit}
    if panel.kind == "stat":
        steps = BUDGET_STEPS
    elif panel.limit is not None:
        defaults["custom"] = {"thresholdsStyle": {"mode": "line"}}
    return {**defaults, "thresholds": {"mode": "absolute", "steps": steps}}


def panel_options(panel: Panel) -> dict[str, Any]:
    if panel.kind == "stat":
        return {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}
    return {"legend": {"displayMode": "list", "placement": "bottom"}}


def panel_json(number: int, panel: Panel, x: int, y: int) -> dict[str, Any]:
    return {
        "id": number,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": PANEL_HEIGHT, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": field_defaults(panel), "overrides": []},
        "options": panel_options(panel),
        "targets": [
            {
                "refId": chr(ord("A") + index),
                "datasource": DATASOURCE,
                "expr": target.expr,
                "legendFormat": target.legend,
            }
            for index, target in enumerate(panel.targets)
        ],
    }


def layout(items: tuple[Panel, ...]) -> list[dict[str, Any]]:
    """Panels left to right, wrapping at the grid's 24 columns."""
    placed: list[dict[str, Any]] = []
    x = y = 0
    for number, panel in enumerate(items, start=1):
        if x + panel.width > GRID_WIDTH:
            x, y = 0, y + PANEL_HEIGHT
        placed.append(panel_json(number, panel, x, y))
        x += panel.width
    return placed


def dashboard() -> dict[str, Any]:
    """The dashboard model Grafana imports."""
    return {
        "uid": UID,
        "title": "onebox",
        "description": "The service, its backups and its host, from the self-hosted Prometheus.",
        "tags": ["onebox"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                }
            ]
        },
        "annotations": {"list": []},
        "panels": layout(panels()),
    }


def render() -> str:
    """The dashboard as onebox.json holds it."""
    return json.dumps(dashboard(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    """Write onebox.json; with `--check`, only say whether it is up to date (exit 1 if not)."""
    if argv == ["--check"]:
        if OUTPUT.read_text() == render():
            return 0
        print(f"{OUTPUT.name} is out of date: run {COMMAND}")
        return 1
    if argv:
        raise SystemExit(f"usage: {COMMAND} [--check] (not {' '.join(argv)!r})")
    OUTPUT.write_text(render())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
