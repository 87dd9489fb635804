"""RUNBOOK.md's alarm tables say what service.contract says: each CloudWatch alarm's priority and
severity, and which level's examples name it. The contract's Prometheus-only alarms (no
CloudWatch alarm: `cloudwatch=False`), if any, are docs/monitoring.md's, not these tables'."""

from __future__ import annotations

import fnmatch
import re

import pytest

from infra.alarm_specs import all_alarms
from infra.ha_alarms import ha_alarms
from service import contract
from tests.support import ROOT

RUNBOOK = ROOT / "RUNBOOK.md"
EVERY_ALARM = (*contract.ALARMS, *contract.HA_ALARMS)  # the single box's and the ha topology's
ALARMS_SECTION = "## Alarms: what each means and what to do"
LEVELS_SECTION = "## Severity levels and escalation"


def section(text: str, heading: str) -> str:
    """The body of the `## ` section `heading`, up to the next `## ` heading."""
    start = text.index(f"\n{heading}\n") + len(heading) + 2
    end = text.find("\n## ", start)
    return text[start : end if end != -1 else len(text)]


def table(body: str) -> list[dict[str, str]]:
    """The rows of the first Markdown table in `body`, as header -> cell."""
    lines = [line for line in body.splitlines() if line.startswith("|")]
    if len(lines) < 2:
        raise ValueError(f"no table in {body[:80]!r}")
    header, _, *rows = ([cell.strip() for cell in line.strip("|").split("|")] for line in lines)
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"row {row[0]!r} has {len(row)} cells, the header {len(header)}")
    return [dict(zip(header, row, strict=True)) for row in rows]


def alarm_rows() -> dict[str, dict[str, str]]:
    rows = table(section(RUNBOOK.read_text(), ALARMS_SECTION))
    return {row["alarm key"].strip("`"): row for row in rows}


def test_the_table_parser_reads_headers_cells_and_refuses_ragged_rows() -> None:
    assert table("x\n| a | b |\n|---|---|\n| `k` | 1 |\n") == [{"a": "`k`", "b": "1"}]
    with pytest.raises(ValueError, match="has 3 cells"):
        table("| a | b |\n|---|---|\n| 1 | 2 | 3 |\n")


def test_the_runbook_explains_exactly_the_alarms_the_stack_creates() -> None:
    namespace = contract.metrics_namespace("dev")
    declared = {spec.key for spec in [*all_alarms(namespace), *ha_alarms(namespace)]}
    assert set(alarm_rows()) == declared == contract.CLOUDWATCH_ALARM_KEYS


def test_each_alarm_has_the_contracts_priority_and_severity() -> None:
    listed = {key: (row["priority"], row["severity"]) for key, row in alarm_rows().items()}
    expected = {a.key: (a.priority, a.severity) for a in EVERY_ALARM if a.cloudwatch}
    assert listed == expected


def test_the_backup_alarm_row_states_the_contracts_threshold() -> None:
    threshold = alarm_rows()["backup-age"]["metric and threshold"]
    assert f"> {contract.BACKUP_STALE_SECONDS} " in threshold
    assert f"{contract.BACKUP_MISSED_RUNS} missed runs" in threshold


def test_each_levels_examples_name_exactly_the_alarms_of_that_priority() -> None:
    levels = table(section(RUNBOOK.read_text(), LEVELS_SECTION))
    assert [row["level"] for row in levels] == ["P1", "P2", "P3", "P4"]
    for row in levels:
        patterns = re.findall(r"`([^`]+)`", row["examples"])
        keys = sorted(contract.CLOUDWATCH_ALARM_KEYS)
        named = {key for p in patterns for key in fnmatch.filter(keys, p)}
        assert all(fnmatch.filter(keys, p) for p in patterns), patterns
        of_level = {a.key for a in EVERY_ALARM if a.cloudwatch and a.priority == row["level"]}
        assert named == of_level, row["level"]


def test_the_burn_alarm_row_states_the_contracts_windows_and_objective() -> None:
    threshold = alarm_rows()["slo-burn"]["metric and threshold"]
    allowed = 100 - contract.SLO_AVAILABILITY_PCT
    units = {"m": "min", "h": "h"}
    for window in contract.BURN_WINDOWS:
        assert f"{window.burn:g} x {allowed:g} %" in threshold
        for span in (window.long, window.short):
            assert f"{span[:-1]} {units[span[-1]]}" in threshold
